"""A Message as a Teams card: Adaptive Card 1.4 in the Workflows message envelope,
cut down to fit a byte budget. Pure.

Every string of the Message goes into a ``TextRun`` inside a ``RichTextBlock``:
TextRun text is not Markdown, so tenant-supplied text can neither format nor link,
and needs no backslash escapes (Teams on iOS and Android shows those literally:
``svc\\_scan@...``). Emphasis comes from the runs' own properties (weight, size,
color). No run ever gets a ``selectAction``: the card's one link is its own button.
"""

from __future__ import annotations

import json
from typing import Any

from shared.core.limits import CARD_MAX_KB
from shared.notify.message import Message, Section, Tone, fit

CARD_VERSION = "1.4"  # 1.5 and 1.6 cards are reported to fail when posted through Workflows
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
# The default budget (SMTPAUTH_CARD_MAX_KB; why 20 KB: shared.core.limits).
LIMIT_BYTES = CARD_MAX_KB.default * 1024
ADMIN_CENTER = "https://admin.exchange.microsoft.com/#/mailboxes"

_COLOR = {Tone.ATTENTION: "Attention", Tone.WARNING: "Warning", Tone.GOOD: "Good", Tone.DEFAULT: "Default"}
# Adaptive Cards replaces {{DATE(...)}} and {{TIME(...)}} in TextRun text too; a word
# joiner between the braces keeps such text from the tenant as it is.
_FUNCTION_OPEN = "{{"
_FUNCTION_OPEN_INERT = "{\u2060{"


def plain(text: str) -> str:
    """Text shown as itself in a TextRun."""
    return text.replace(_FUNCTION_OPEN, _FUNCTION_OPEN_INERT)


def _run(text: str, **props: Any) -> dict[str, Any]:
    return {"type": "TextRun", "text": plain(text), **props}


def _rich(*runs: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "RichTextBlock", "inlines": list(runs), **props}


def _text(text: str, run: dict[str, Any] | None = None, **props: Any) -> dict[str, Any]:
    """One block of one run: ``run`` holds the run's properties, ``props`` the block's."""
    return _rich(_run(text, **(run or {})), **props)


def _section(section: Section) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        _text(section.heading, {"weight": "Bolder", "color": _COLOR[section.tone], "size": "Medium"})
    ]
    if section.note:
        items.append(_text(section.note, spacing="Small"))
    for line in section.lines:
        # A block per line: a TextRun cannot hold a list, and a line break inside one
        # is not drawn the same way by every Teams client.
        runs = [_run(f"• {line.text}", weight="Bolder")]
        if line.detail:
            runs.append(_run(f" · {line.detail}"))
        items.append(_rich(*runs, spacing="Small"))
    if section.more:
        items.append(_text(f"… and {section.more:,} more", {"isSubtle": True}, spacing="Small"))
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def _fact(title: str, value: str) -> dict[str, Any]:
    # Not a FactSet: Teams reads fact titles and values as Markdown.
    return _rich(_run(f"{title}: ", weight="Bolder"), _run(value), spacing="None")


def card(message: Message) -> dict[str, Any]:
    header_items = [_text(message.title, {"size": "Large", "weight": "Bolder"})]
    if message.summary:
        header_items.append(_text(message.summary, spacing="Small"))
    body: list[dict[str, Any]] = [
        {"type": "Container", "style": str(message.tone), "bleed": True, "items": header_items}
    ]
    if message.facts:
        facts = [_fact(k, v) for k, v in message.facts]
        facts[0]["spacing"] = "Medium"
        body += facts
    body += [_section(s) for s in message.sections]
    if message.todo:
        todo: list[dict[str, Any]] = [_text("What to do", {"weight": "Bolder", "size": "Medium"})]
        todo += [_text(step, spacing="Small") for step in message.todo]
        body.append({"type": "Container", "separator": True, "spacing": "Medium", "items": todo})
    if message.footer:
        body.append(_text(message.footer, {"isSubtle": True, "size": "Small"}, spacing="Medium"))
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
