"""What the CLI writes to the terminal besides its report: the progress line, log
lines and error lines, each cleaned like the cards and mails (tenant text can carry
control characters, ANSI escapes, bidi overrides and line breaks), and never a
traceback: the admin gets one line that says what is wrong."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from shared.notify.text import MAX_NOTE, one_line

# Records that repeat what the report or the error line already says: the engine's
# per-tenant summary (the report is the summary; an unexpected failure, logged with
# its exception, is still shown) and azure-identity's "get_token failed" warnings (the
# failure is reported once, with the setting to fix).
_SUMMARIES = "shared.shell.engine"
_IDENTITY = "azure.identity"


def say(text: object, *, limit: int = MAX_NOTE) -> str:
    """Tenant text as it may reach a terminal: one clean line."""
    return one_line(text, limit)


class Progress:
    """Mailboxes read so far, on one terminal line (only on a terminal); cleared
    before anything else is written to the terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.active = self.stream.isatty()
        self.width = 0

    def __call__(self, tenant: str, count: int) -> None:
        if self.active:
            line = f"  {say(tenant)}: {count:,} mailboxes read"
            self.stream.write("\r" + line.ljust(self.width))
            self.stream.flush()
            self.width = len(line)

    def clear(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


_PROGRESS: list[Progress] = []  # the line on screen, if any, that a log line must clear first


def progress() -> Progress:
    """The command's progress line, known to the log handler."""
    line = Progress()
    _PROGRESS[:] = [line]
    return line


def clear_progress() -> None:
    for line in _PROGRESS:
        line.clear()


class _TerminalHandler(logging.Handler):
    """``warning: ...`` / ``error: ...`` on stderr, cleaned, with the exception's one-line
    summary instead of its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(_SUMMARIES) and not record.exc_info:
            return False
        if record.name.startswith(_IDENTITY) and record.levelno < logging.ERROR:
            return False
        return super().filter(record)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                text += f" ({type(exc).__name__}: {exc})"
            clear_progress()
            sys.stderr.write(f"{record.levelname.lower()}: {say(text)}\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 (a log line must never end the command)
            self.handleError(record)


def setup_logging() -> None:
    """Warnings and errors of the product and its libraries, one clean line each;
    unless the caller (the demo, a test) set up logging itself."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(_TerminalHandler(logging.WARNING))
        root.setLevel(logging.WARNING)


def error(text: object) -> None:
    """The command's one error line."""
    clear_progress()
    print(f"error: {say(text)}", file=sys.stderr)


def warn(text: object) -> None:
    clear_progress()
    print(f"warning: {say(text)}", file=sys.stderr)
