"""The simulator as its own process (``python -m sim``): its request handling and
JSON building then run on the other core instead of sharing the measured client's
GIL. Start it, read its one JSON line, stop it with SIGTERM."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class TenantShape:
    """What the simulated tenant holds."""

    mailboxes: int
    enabled_overrides: int  # SMTP AUTH switched on per mailbox (some approved)
    disabled_overrides: int  # explicitly off per mailbox


class SimProcess:
    def __init__(
        self, shape: TenantShape, *, tenant_id: str, domain: str, latency_ms: float, latency_ms_per_kb: float
    ) -> None:
        self.args = [
            sys.executable, "-m", "sim", "--port", "0",
            "--tenant-id", tenant_id, "--domain", domain,
            "--mailboxes", str(shape.mailboxes),
            "--enabled-overrides", str(shape.enabled_overrides),
            "--disabled-overrides", str(shape.disabled_overrides),
            "--latency-ms", str(latency_ms), "--latency-ms-per-kb", str(latency_ms_per_kb),
        ]  # fmt: skip
        self._proc: subprocess.Popen[str] | None = None
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in __exit__)
        self.info: dict[str, Any] = {}

    def start(self) -> Self:
        self._proc = subprocess.Popen(
            self.args, cwd=ROOT, stdout=subprocess.PIPE, stderr=self._stderr, text=True
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()  # the sim prints it once it serves
        if not line:
            self._stderr.seek(0)
            self.stop()
            raise RuntimeError(f"simulator did not start: {self._stderr.read()[-2000:]}")
        self.info = json.loads(line)
        return self

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("the simulator is not running")
        return self._proc.pid

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout:
            proc.stdout.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._stderr.close()
