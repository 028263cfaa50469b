"""What a command runs against: the timer's runtime, with the admin's credential."""

from __future__ import annotations

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
