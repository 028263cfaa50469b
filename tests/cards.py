"""What a person reads on an Adaptive Card: the text of its RichTextBlocks (each
block's runs joined), TextBlocks and FactSet entries, in order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def elements(card: Any) -> Iterator[dict[str, Any]]:
    """Every object with a "type" in ``card`` (a dict or the posted envelope), depth first."""
    if isinstance(card, dict):
        if "type" in card:
            yield card
        for value in card.values():
            yield from elements(value)
    elif isinstance(card, list):
        for value in card:
            yield from elements(value)


def card_strings(card: Any) -> list[str]:
    """Every text block of ``card``, in order; a fact is "title: value"."""
    out: list[str] = []
    for node in elements(card):
        kind = node["type"]
        if kind == "RichTextBlock":
            out.append("".join(i if isinstance(i, str) else i["text"] for i in node["inlines"]))
        elif kind == "TextBlock":
            out.append(node["text"])
        elif kind == "FactSet":
            out.extend(f"{fact['title']}: {fact['value']}" for fact in node["facts"])
    return out


def text_runs(card: Any) -> list[dict[str, Any]]:
    return [node for node in elements(card) if node["type"] == "TextRun"]
