"""``make sim``: a newcomer starts Azurite and the simulator in one command, loads the
settings it wrote, and every CLI command works against them; Ctrl-C stops both."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from sim import sandbox

ROOT = Path(__file__).resolve().parents[2]


def read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        (env[name],) = shlex.split(value)
    return env


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared", *args],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def wait_for(predicate, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def port_open(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((parts.hostname, parts.port)) == 0


def test_make_sim_serves_the_cli_until_interrupted(tmp_path):
    env_file = tmp_path / "sandbox.env"
    out = tmp_path / "stdout"
    with out.open("w") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim.sandbox", "--mailboxes", "20", "--every", "2", "--env-file", str(env_file)],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=stdout, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for(lambda: env_file.exists() and "Ctrl-C" in out.read_text(), "the sandbox to start")
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600  # it holds the identity header
        env = read_env(env_file)
        # Neither the identity header nor the webhook URL is printed.
        printed = out.read_text()
        assert env["IDENTITY_HEADER"] not in printed and env[sandbox.TEAMS_SETTING] not in printed
        tenant = env["TENANT"]

        added = cli(env, "tenant", "add", "--tenant", tenant, "--domain", sandbox.DOMAIN,
                    "--teams-webhook-setting", sandbox.TEAMS_SETTING, "--notify-email", "secops@contoso.com")  # fmt: skip
        assert added.returncode == 0, added.stderr
        checked = cli(env, "check", "--tenant", sandbox.DOMAIN)
        assert checked.returncode == 1, checked.stderr  # the printer and two others: drift
        assert sandbox.PRINTER in checked.stdout
        listed = cli(env, "exception", "list", "--tenant", tenant)
        assert listed.returncode == 0, listed.stderr
        # The sandbox's timer sends what the check queued, and shows it.
        wait_for(lambda: re.search(r'Teams: card "SMTP AUTH drift found', out.read_text()), "the Teams card")
        assert "Email to secops@contoso.com" in out.read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    assert "Stopped Azurite and the simulator." in out.read_text()
    assert not env_file.exists()  # its ports and header are dead
    assert not port_open(env["SMTPAUTH_EXCHANGE_URL"])
