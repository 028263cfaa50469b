"""What a person reads on an Adaptive Card: its TextBlocks and FactSet entries."""

from __future__ import annotations

from typing import Any


def card_strings(card: Any, *, split_facts: bool = False) -> list[str]:
    """Every TextBlock text and fact of ``card`` (a dict or the posted envelope), in
    order; a fact is "title: value", or title and value apart with ``split_facts``."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                out.append(node["text"])
            if node.get("type") == "FactSet":
                for fact in node["facts"]:
                    out.extend(
                        (fact["title"], fact["value"])
                        if split_facts
                        else (f"{fact['title']}: {fact['value']}",)
                    )
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return out
