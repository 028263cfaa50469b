"""``make demo`` is the first command a newcomer runs: it must run to the end and
show what the README promises (drift told, unchanged told nothing, fixed told,
remediation with a held printer, the digest)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_runs_to_the_end(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "sim.demo"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "Traceback" not in out and "Unclosed" not in out and "log ERROR" not in out
    assert "Mode: report -> remediate" in out  # the remediate switch is a change, not a re-add
    # The first plan waits out the grace period and says until when; the demo then acts at once.
    assert "SMTP AUTH will be turned off for" in out and "GraceHours: 24 -> 0" in out
    for step in ("1-drift", "3-fixed", "4-remediated", "6-digest"):
        assert (tmp_path / "out" / "demo" / f"{step}-teams-card-1.json").is_file(), step
        assert (tmp_path / "out" / "demo" / f"{step}-email-1.html").is_file(), step
    assert "Notifications: nothing sent (nothing changed)." in out
    assert "exception-uses-basic-auth" in out  # the scanner's exception at risk
    assert "SMTP AUTH sign-ins, last 30 days" in out and "approved by ciso@contoso.com" in out
