"""The managed identity and the tenants' clients, kept warm between invocations.

A Functions worker process runs every async invocation on its one event loop, so
what one timer (or queue) invocation opened can serve the next: the identity's
cached tokens and each tenant's connection pool survive, and a warm worker asks
for no new token until the old one expires. Clients are tied to the loop they were
made on: on another loop (a test's, or after a worker restart) the pool is built
anew. Settings that change what the clients are (identity, endpoints) do too.
A pool is closed with its loop: ``asyncio.run`` (the CLI, the demo) finalizes the
loop's async generators before it closes the loop, and one of them holds the pool,
so no connection outlives its loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field

from azure.core.credentials_async import AsyncTokenCredential

from shared.adapters.tenant_clients import TenantClients

log = logging.getLogger(__name__)

Build = Callable[[], Awaitable[tuple[AsyncTokenCredential, TenantClients]]]


@dataclass
class _Pool:
    loop: asyncio.AbstractEventLoop
    key: Hashable
    credential: AsyncTokenCredential
    clients: TenantClients
    holder: AsyncGenerator[None, None] | None = field(default=None, repr=False)

    async def close(self) -> None:
        try:
            await self.clients.close()
        finally:
            await self.credential.close()

    async def hold(self) -> None:
        """Tie the pool to its loop's end (see the module docstring)."""
        self.holder = _until_loop_ends(self)
        await anext(self.holder)

    async def release(self) -> None:
        if self.holder is not None:
            await self.holder.aclose()  # runs the holder's finally: closes the pool


async def _until_loop_ends(pool: _Pool) -> AsyncGenerator[None, None]:
    global _pool
    try:
        yield
    finally:
        if _pool is pool:
            _pool = None
        await _close_quietly(pool)


_pool: _Pool | None = None
_lock: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}


async def warm(key: Hashable, build: Build) -> tuple[AsyncTokenCredential, TenantClients]:
    """The process's identity and tenant clients for ``key``, built on first use."""
    global _pool
    loop = asyncio.get_running_loop()
    async with _lock.setdefault(loop, asyncio.Lock()):  # two invocations at once build one pool
        if _pool is None or _pool.loop is not loop or _pool.key != key:
            stale, _pool = _pool, None
            if stale is not None and stale.loop is loop:
                await stale.release()
            credential, clients = await build()
            _pool = _Pool(loop, key, credential, clients)
            await _pool.hold()
        return _pool.credential, _pool.clients


async def close_warm() -> None:
    """Close what is kept (tests; a worker shutting down)."""
    global _pool
    stale, _pool = _pool, None
    if stale is not None and stale.loop is asyncio.get_running_loop():
        await stale.release()


async def _close_quietly(pool: _Pool) -> None:
    try:
        await pool.close()
    except Exception:  # a connection already gone must not fail the run that replaces it
        log.warning("closing the previous clients failed", exc_info=True)
