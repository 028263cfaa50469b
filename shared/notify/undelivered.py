"""Notifications given up on, told in the next message that gets through. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from shared.notify.message import Line, Message, Section, Tone
from shared.notify.text import MAX_NOTE, clean, when


@dataclass(frozen=True)
class Undelivered:
    title: str
    channel: str
    queued_at: datetime
    error: str = ""
    attempts: int = 0


def with_undelivered(message: Message, items: Sequence[Undelivered]) -> Message:
    if not items:
        return message
    lines = tuple(
        Line(
            clean(item.title),
            clean(
                f"{item.channel}, queued {when(item.queued_at)}, given up after {item.attempts} attempts: "
                f"{item.error}",
                MAX_NOTE,
            ),
        )
        for item in items
    )
    section = Section(
        f"Earlier notifications that could not be delivered ({len(lines):,})",
        lines,
        tone=Tone.WARNING,
        note="Check the webhook app setting, the mail sender and the identity's Mail.Send permission.",
    )
    return replace(message, sections=(*message.sections, section))
