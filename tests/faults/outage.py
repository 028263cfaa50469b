"""A storage outage a test can start and end without letting go of its ports.

Stopping Azurite frees its ports; on this shared machine any process can take one
before the restart (a server's free port, an outgoing connection's source port), and
then the restarted Azurite cannot bind while the run talks to a stranger that may
never answer. So the app never sees Azurite's own ports: it talks to three loopback
ports this test listens on for its whole life, each forwarding to Azurite's. "Stopped"
is Azurite's process stopped, every open connection cut, and each new one closed at
once (a dead back end behind a held address); "restarted" is a new Azurite on the
same on-disk data, on fresh ports, forwarded to again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

from sim.azurite import DEV_ACCOUNT, DEV_KEY, Azurite


async def until(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    """Poll ``condition`` until true; an AssertionError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.05)


class HeldPort:
    """One loopback port, listened on until close(), forwarding to ``upstream``."""

    def __init__(self) -> None:
        self.upstream: int | None = None
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = self.upstream
        if upstream is None:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", upstream), 2)
        except (OSError, TimeoutError):
            writer.close()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}

    def cut(self) -> None:
        """Forward nothing more, and drop every connection open now."""
        self.upstream = None
        for writer in list(self._writers):
            writer.transport.abort()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        sink.transport.abort()


class HeldStorage:
    """An on-disk Azurite behind three held ports: ``connection_string`` never changes."""

    def __init__(self, location: Path) -> None:
        self._location = location
        self._azurite: Azurite | None = None
        self._ports = {"Blob": HeldPort(), "Queue": HeldPort(), "Table": HeldPort()}

    @property
    def connection_string(self) -> str:
        ends = "".join(
            f"{k}Endpoint=http://127.0.0.1:{p.port}/{DEV_ACCOUNT};" for k, p in self._ports.items()
        )
        return f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};{ends}"

    async def open(self) -> Self:
        for port in self._ports.values():
            await port.open()
        await self.start()
        return self

    async def start(self) -> None:
        # Blocking (it waits for Azurite to listen): off the loop, which forwards.
        azurite = await asyncio.to_thread(Azurite(location=self._location).start)
        self._azurite = azurite
        ports = {"Blob": azurite.blob_port, "Queue": azurite.queue_port, "Table": azurite.table_port}
        for kind, held in self._ports.items():
            held.upstream = ports[kind]

    async def stop(self) -> None:
        for held in self._ports.values():
            held.cut()
        if self._azurite is not None:
            await asyncio.to_thread(self._azurite.stop)
            self._azurite = None

    async def close(self) -> None:
        await self.stop()
        for held in self._ports.values():
            await held.close()


@contextlib.asynccontextmanager
async def held_storage(location: Path):
    storage = await HeldStorage(location).open()
    try:
        yield storage
    finally:
        await storage.close()
