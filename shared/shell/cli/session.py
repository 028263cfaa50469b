"""What a command runs against: the timer's runtime, with the admin's credential."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shared.adapters.credentials import workstation_credential
from shared.shell.runtime import Runtime, open_runtime
from shared.shell.settings import Settings


@asynccontextmanager
async def cli_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """The timer's runtime, with the admin's workstation credential."""
    credential = workstation_credential(settings.client_id)
    async with credential, open_runtime(settings, credential=credential) as runtime:
        yield runtime


class Progress:
    """Mailboxes read so far, on one terminal line (only on a terminal)."""

    def __init__(self) -> None:
        self.active = sys.stderr.isatty()
        self.shown = False

    def __call__(self, tenant: str, count: int) -> None:
        if self.active:
            sys.stderr.write(f"\r  {tenant}: {count:,} mailboxes read")
            sys.stderr.flush()
            self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 72 + "\r")
            sys.stderr.flush()
