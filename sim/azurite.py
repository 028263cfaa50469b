"""Start and stop Azurite (the Azure Storage emulator, npm package ``azurite``) on
free loopback ports, in memory. Used by tests, the demo and benchmarks."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

ROOT = Path(__file__).resolve().parent.parent
# Azurite's published development account; its key is public by design.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Azurite exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"Azurite did not listen on 127.0.0.1:{port} within {timeout} s")


class Azurite:
    """``with Azurite() as az: az.connection_string``

    ``location``: keep the data in that folder instead of in memory, so a stop() and
    start() again (same ports) is an outage that loses nothing, as Azure Storage's are."""

    def __init__(self, location: Path | None = None) -> None:
        self.blob_port, self.queue_port, self.table_port = free_port(), free_port(), free_port()
        self._proc: subprocess.Popen | None = None
        self._location = location

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
        binary = ROOT / "node_modules" / ".bin" / "azurite"
        if not binary.exists():
            found = shutil.which("azurite")
            if not found:
                raise RuntimeError("Azurite is not installed: run `npm ci` (make does this for you)")
            binary = Path(found)
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
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        for port in (self.blob_port, self.queue_port, self.table_port):
            _wait_for(port, self._proc, timeout)
        return self

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
