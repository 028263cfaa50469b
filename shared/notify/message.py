"""One view of a notification, rendered by card.py (Teams) and mail_html.py (mail),
so both say the same thing. Pure.

Strings in a Message are raw text: tenant-supplied parts (mailbox addresses,
reasons, error text) are only cleaned of control characters and clipped (text.py);
each renderer escapes every string for its own format. The renderers add formatting
through their own structure (card weights, HTML tags), never through the text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from shared.notify.text import PRODUCT, clean


class Tone(StrEnum):
    ATTENTION = "attention"  # wrong and needs someone
    WARNING = "warning"  # unknown, held, still open
    GOOD = "good"  # resolved, recovered, fixed
    DEFAULT = "default"


@dataclass(frozen=True)
class Line:
    text: str
    detail: str = ""


@dataclass(frozen=True)
class Section:
    heading: str
    lines: tuple[Line, ...] = ()
    more: int = 0  # lines left out ("and N more")
    tone: Tone = Tone.DEFAULT
    note: str = ""

    def limited(self, count: int) -> Section:
        if len(self.lines) <= count:
            return self
        return replace(self, lines=self.lines[:count], more=self.more + len(self.lines) - count)


@dataclass(frozen=True)
class Message:
    title: str
    summary: str
    tone: Tone
    facts: tuple[tuple[str, str], ...] = ()
    sections: tuple[Section, ...] = ()
    todo: tuple[str, ...] = ()
    footer: str = ""

    @property
    def subject(self) -> str:
        """The mail subject: the title plus the one-line summary, plain text."""
        return clean(f"[{PRODUCT}] {self.title}: {self.summary}", 250)

    @property
    def line_count(self) -> int:
        return max((len(s.lines) for s in self.sections), default=0)

    def limited(self, per_section: int) -> Message:
        return replace(self, sections=tuple(s.limited(per_section) for s in self.sections))

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Message:
        data: dict[str, Any] = json.loads(text)
        return cls(
            title=data["title"],
            summary=data["summary"],
            tone=Tone(data["tone"]),
            facts=tuple((k, v) for k, v in data["facts"]),
            sections=tuple(
                Section(
                    heading=s["heading"],
                    lines=tuple(Line(**line) for line in s["lines"]),
                    more=s["more"],
                    tone=Tone(s["tone"]),
                    note=s["note"],
                )
                for s in data["sections"]
            ),
            todo=tuple(data["todo"]),
            footer=data["footer"],
        )


def fit(message: Message, size: Callable[[Message], int], limit: int) -> Message:
    """The message with as many lines per section as keep ``size`` within ``limit``;
    the rest become "and N more". Falls back to title and summary alone."""
    if size(message) <= limit:
        return message
    # Every rendering spends well over 16 characters a line: no need to try more.
    low, high = 0, min(message.line_count, limit // 16)  # invariant: `low` lines fit
    if size(message.limited(0)) > limit:
        bare = Message(message.title, message.summary, message.tone, footer=message.footer)
        return bare if size(bare) <= limit else Message(clean(message.title, 80), "", message.tone)
    while low < high:
        mid = (low + high + 1) // 2
        if size(message.limited(mid)) <= limit:
            low = mid
        else:
            high = mid - 1
    return message.limited(low)
