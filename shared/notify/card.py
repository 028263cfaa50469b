"""A Message as a Teams card: Adaptive Card 1.4 in the Workflows message envelope,
cut down to fit under Teams' message size limit. Pure.

Teams reads TextBlock text as Markdown, so every string from the Message is
escaped: tenant-supplied text can neither format nor link. The card's own emphasis
comes from element properties (weight, color, style), plus ``**`` around escaped
names in lists.
"""

from __future__ import annotations

import json
import re
from typing import Any

from shared.notify.message import Message, Section, Tone, fit

CARD_VERSION = "1.4"  # 1.5 and 1.6 cards are reported to fail when posted through Workflows
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
# Teams takes about 28 KB per message; keep a margin for what Teams wraps around it.
LIMIT_BYTES = 27 * 1024
ADMIN_CENTER = "https://admin.exchange.microsoft.com/#/mailboxes"

# The ASCII characters Markdown (and Adaptive Cards' {{DATE()}} functions) read as
# syntax anywhere in a line; a backslash escape is valid CommonMark for each. Others
# ("-", "+", "=", "1.") matter only at the start of a line, handled in md().
# Parentheses and "!" are left alone: they make a link or an image only after "[...]",
# whose brackets are escaped, and some Teams clients show escapes as backslashes, so
# escaping only what must be keeps "(6)" and commands readable there.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#|<>~&])")
_COLOR = {Tone.ATTENTION: "Attention", Tone.WARNING: "Warning", Tone.GOOD: "Good", Tone.DEFAULT: "Default"}


def md(text: str) -> str:
    """Text shown as itself in a Markdown TextBlock."""
    escaped = _MD_SPECIAL.sub(r"\\\1", text)
    # A list, a rule or a heading underline at the start of the text.
    escaped = re.sub(r"^([-+=])", r"\\\1", escaped)
    return re.sub(r"^(\d+)\.", r"\1\\.", escaped)


def _text(text: str, **props: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": md(text), "wrap": True, **props}


def _section(section: Section) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        _text(section.heading, weight="Bolder", color=_COLOR[section.tone], size="Medium")
    ]
    if section.note:
        items.append(_text(section.note, spacing="Small"))
    if section.lines:
        # One TextBlock holding a Markdown list: a few bytes per line, so more fit.
        bullets = "\n".join(
            f"- **{md(line.text)}**" + (f" · {md(line.detail)}" if line.detail else "")
            for line in section.lines
        )
        items.append({"type": "TextBlock", "text": bullets, "wrap": True, "spacing": "Small"})
    if section.more:
        items.append(_text(f"… and {section.more:,} more", isSubtle=True, spacing="Small"))
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def card(message: Message) -> dict[str, Any]:
    header_items = [_text(message.title, size="Large", weight="Bolder")]
    if message.summary:
        header_items.append(_text(message.summary, spacing="Small"))
    body: list[dict[str, Any]] = [
        {"type": "Container", "style": str(message.tone), "bleed": True, "items": header_items}
    ]
    if message.facts:
        body.append(
            {"type": "FactSet", "facts": [{"title": md(k), "value": md(v)} for k, v in message.facts]}
        )
    body += [_section(s) for s in message.sections]
    if message.todo:
        todo: list[dict[str, Any]] = [_text("What to do", weight="Bolder", size="Medium")]
        todo += [_text(step, spacing="Small") for step in message.todo]
        body.append({"type": "Container", "separator": True, "spacing": "Medium", "items": todo})
    if message.footer:
        body.append(_text(message.footer, isSubtle=True, size="Small", spacing="Medium"))
    return {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
        "actions": [
            {"type": "Action.OpenUrl", "title": "Open the Exchange admin center", "url": ADMIN_CENTER}
        ],
    }


def envelope(content: dict[str, Any]) -> dict[str, Any]:
    """The body a Workflows "When a Teams webhook request is received" flow expects."""
    return {
        "type": "message",
        "attachments": [{"contentType": CONTENT_TYPE, "contentUrl": None, "content": content}],
    }


def encode(body: dict[str, Any]) -> bytes:
    # UTF-8, not \u escapes: non-Latin text then costs 2-3 bytes a character, not 6.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def size(message: Message) -> int:
    return len(encode(envelope(card(message))))


def fitted(message: Message, limit: int = LIMIT_BYTES) -> Message:
    """The message cut down ("and N more") so its card stays within ``limit`` bytes."""
    return fit(message, size, limit)


def payload(message: Message, limit: int = LIMIT_BYTES) -> bytes:
    """The request body to POST: never more than ``limit`` bytes."""
    body = encode(envelope(card(fitted(message, limit))))
    if len(body) > limit:  # fit() falls back to a bare title; this cannot happen
        raise ValueError(f"card is {len(body)} bytes, over {limit}")
    return body
