"""What a Functions worker keeps between invocations: the identity, the tenants'
clients, and the Table Storage, queue and notification clients.

A Functions worker process runs every async invocation on its one event loop, so
what one timer (or queue) invocation opened can serve the next: the identity's
cached tokens and every client's connection pool survive, and a warm worker asks
for no new token and opens no new connection until it must. For the queue worker
this is most of an invocation's own cost: building the clients and connecting to
storage again for each message would cost more than the tenant's two Exchange
requests (docs/performance.md). Clients are tied to the loop they were made on: on
another loop (a test's, or after a worker restart) they are built anew. Settings
that change what the clients are (identity, endpoints, storage) do too.
What is kept is closed with its loop: ``asyncio.run`` (the CLI, the demo) finalizes
the loop's async generators before it closes the loop, and one of them holds what is
kept, so no connection outlives its loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, cast

log = logging.getLogger(__name__)


class Closable(Protocol):
    async def close(self) -> None: ...


K = TypeVar("K", bound=Closable)


@dataclass
class _Pool:
    loop: asyncio.AbstractEventLoop
    key: Hashable
    kept: Closable
    holder: AsyncGenerator[None, None] | None = field(default=None, repr=False)

    async def hold(self) -> None:
        """Tie what is kept to its loop's end (see the module docstring)."""
        self.holder = _until_loop_ends(self)
        await anext(self.holder)

    async def release(self) -> None:
        if self.holder is not None:
            await self.holder.aclose()  # runs the holder's finally: closes what is kept


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


async def warm(key: Hashable, build: Callable[[], Awaitable[K]]) -> K:
    """What the process keeps for ``key``, built on first use (and after a change of
    loop or key: what was kept for the old key is closed first)."""
    global _pool
    loop = asyncio.get_running_loop()
    async with _lock.setdefault(loop, asyncio.Lock()):  # two invocations at once build once
        if _pool is None or _pool.loop is not loop or _pool.key != key:
            stale, _pool = _pool, None
            if stale is not None and stale.loop is loop:
                await stale.release()
            _pool = _Pool(loop, key, await build())
            await _pool.hold()
        return cast(K, _pool.kept)


async def close_warm() -> None:
    """Close what is kept (tests; a worker shutting down)."""
    global _pool
    stale, _pool = _pool, None
    if stale is not None and stale.loop is asyncio.get_running_loop():
        await stale.release()


async def _close_quietly(pool: _Pool) -> None:
    try:
        await pool.kept.close()
    except Exception:  # a connection already gone must not fail the run that replaces it
        log.warning("closing the previous clients failed", exc_info=True)
