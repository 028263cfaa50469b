"""Plain-text helpers every notification uses: clean tenant text, say a time, a
count, an SMTP AUTH value. Pure."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

MAX_TEXT = 300  # one value (an address, a reason); longer is clipped with "…"
MAX_NOTE = 1000  # an error message or a remediation note
PRODUCT = "SMTP AUTH Guard"

# Bidirectional overrides can make "moc.live@" read as "@evil.com": never pass them on.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"))
_SPACE = re.compile(r"\s+")


def one_line(text: object, limit: int = MAX_TEXT) -> str:
    """One line of plain text: no control (so no terminal escape) or bidi characters,
    whitespace collapsed, at most ``limit`` characters. What the CLI prints."""
    raw = str(text).translate(_BIDI)
    raw = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in raw)
    raw = _SPACE.sub(" ", raw).strip()
    return raw if len(raw) <= limit else raw[: limit - 1].rstrip() + "…"


def clean(text: object, limit: int = MAX_TEXT) -> str:
    """``one_line``, and no clickable URL: what cards and mails show."""
    # An invisible word joiner in "://": a URL in tenant text stays readable but no
    # client turns it into a link to click. (A terminal copies it along, so the CLI
    # leaves URLs whole: nothing there follows a link on its own.)
    return one_line(text, limit).replace("://", ":\u2060//")


def when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def smtp(disabled: bool | None) -> str:
    """What SmtpClientAuthenticationDisabled means for a person: True is OFF."""
    return {True: "off", False: "ON", None: "follows the org"}[disabled]


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"
