"""Start and stop Azurite (the Azure Storage emulator, npm package ``azurite``) on
free loopback ports, in memory. Used by tests, the demo and benchmarks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Self

ROOT = Path(__file__).resolve().parent.parent
# Azurite's published development account; its key is public by design.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PortTaken(RuntimeError):
    """Another process listens on a port this Azurite was given."""


def _listening_inodes(port: int) -> set[str] | None:
    """The inodes of the sockets listening on ``port`` (Linux /proc), None where
    /proc/net/tcp cannot be read."""
    found: set[str] = set()
    try:
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as lines:
                for line in list(lines)[1:]:
                    cells = line.split()
                    # local address "ADDR:PORT" in hex; state 0A is LISTEN; inode is column 10
                    if int(cells[1].rsplit(":", 1)[1], 16) == port and cells[3] == "0A":
                        found.add(cells[9])
    except OSError:
        return None
    return found


def _owned_by(pid: int, inodes: set[str]) -> bool:
    wanted = {f"socket:[{inode}]" for inode in inodes}
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                return True
        except OSError:
            continue
    return False


def _wait_for(port: int, proc: subprocess.Popen, timeout: float) -> None:
    """Until ``proc`` itself listens on ``port``. A port that accepts connections is not
    enough: between free_port() and Azurite's bind another process can take it, and
    then Azurite exits (EADDRINUSE) a moment later while clients talk to a stranger
    that may never answer (azure-core waits 300 s per read, retried)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Azurite exited with code {proc.returncode}")
        inodes = _listening_inodes(port)
        if inodes is None:  # no /proc (not Linux): a connection is the best sign there is
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                pass
        elif inodes and _owned_by(proc.pid, inodes):
            return
        elif inodes and proc.poll() is None:  # someone else listens there: Azurite's bind fails
            raise PortTaken(f"127.0.0.1:{port} is taken by another process")
        time.sleep(0.05)
    raise RuntimeError(f"Azurite did not listen on 127.0.0.1:{port} within {timeout} s")


class Azurite:
    """``with Azurite() as az: az.connection_string``

    ``location``: keep the data in that folder instead of in memory, so a stop() and
    start() again (same ports) is an outage that loses nothing, as Azure Storage's are.
    A start again fails (PortTaken) when another process took one of its ports meanwhile;
    tests/faults/outage.py holds a port for the whole outage instead."""

    def __init__(self, location: Path | None = None) -> None:
        self.blob_port, self.queue_port, self.table_port = free_port(), free_port(), free_port()
        self._proc: subprocess.Popen | None = None
        self._output: IO[bytes] | None = None
        self._location = location
        self._ports_used = False  # a start succeeded: a start again keeps these ports

    @property
    def pid(self) -> int:
        """The Azurite process (for benchmarks that account for its CPU)."""
        if self._proc is None:
            raise RuntimeError("Azurite is not running")
        return self._proc.pid

    @property
    def connection_string(self) -> str:
        host = "http://127.0.0.1"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"BlobEndpoint={host}:{self.blob_port}/{DEV_ACCOUNT};"
            f"QueueEndpoint={host}:{self.queue_port}/{DEV_ACCOUNT};"
            f"TableEndpoint={host}:{self.table_port}/{DEV_ACCOUNT};"
        )

    def start(self, timeout: float = 30) -> Azurite:
        """Start it and return once this process listens on all three ports. A first
        start whose port another process took tries fresh ports (twice more); a start
        again after stop() keeps its ports, so it fails (PortTaken) rather than serve
        elsewhere."""
        for attempt in range(3):
            try:
                return self._start(timeout)
            except PortTaken:
                if self._ports_used or attempt == 2:
                    raise
                self.blob_port, self.queue_port, self.table_port = free_port(), free_port(), free_port()
        raise AssertionError("unreachable")

    def _start(self, timeout: float) -> Azurite:
        binary = ROOT / "node_modules" / ".bin" / "azurite"
        if not binary.exists():
            found = shutil.which("azurite")
            if not found:
                raise RuntimeError("Azurite is not installed: run `npm ci` (make does this for you)")
            binary = Path(found)
        # Its output goes to a file, never a pipe: a pipe nobody reads fills up and
        # Node, which writes to pipes synchronously, stops serving every request.
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self._proc = subprocess.Popen(  # noqa: S603 (our own dev dependency, fixed arguments)
            [
                str(binary),
                *(["--location", str(self._location)] if self._location else ["--inMemoryPersistence"]),
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--silent",
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(self.blob_port),
                "--queueHost",
                "127.0.0.1",
                "--queuePort",
                str(self.queue_port),
                "--tableHost",
                "127.0.0.1",
                "--tablePort",
                str(self.table_port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        try:
            for port in (self.blob_port, self.queue_port, self.table_port):
                _wait_for(port, self._proc, timeout)
        except RuntimeError as exc:
            said = self._said()
            self.stop()
            kind = PortTaken if isinstance(exc, PortTaken) or "EADDRINUSE" in said else RuntimeError
            raise kind(f"{exc}{'; it said: ' + said if said else ''}") from None
        self._ports_used = True
        return self

    def _said(self) -> str:
        """The end of what Azurite wrote, for an error message."""
        if self._output is None:
            return ""
        self._output.seek(0, os.SEEK_END)
        self._output.seek(max(0, self._output.tell() - 2000))
        return self._output.read().decode("utf-8", "replace").strip()

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if self._output is not None:
            self._output.close()
            self._output = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
