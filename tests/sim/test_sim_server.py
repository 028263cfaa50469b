"""SimServer lifecycle and the standalone `python -m sim` entry point."""

from __future__ import annotations

import gc
import json
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest

from sim import SimServer
from tests.sim.exo_http import ExoClient, mint_token

ROOT = Path(__file__).resolve().parents[2]


def sim_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "sim-server")


def test_start_stop_and_expire_tokens() -> None:
    threads_before = sim_threads()
    gc.collect()  # settle what earlier tests left behind, so only this server is judged
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        server = SimServer(identity_header="local-secret").start()
        try:
            assert server.url.startswith("http://127.0.0.1:")
            assert server.port > 0
            assert server.identity_endpoint == server.url + "/msi/token"
            assert server.exchange_url == server.url
            assert server.identity_header == "local-secret"
            tenant = server.add_tenant("7e6d5c4b-3a29-4817-a6f5-e4d3c2b1a098", "litware.onmicrosoft.com")
            tenant.seed(3)
            assert server.tenant("LITWARE.onmicrosoft.com") is tenant
            with pytest.raises(KeyError):
                server.tenant("nobody.onmicrosoft.com")

            api = ExoClient(server, tenant, mint_token(server).json["access_token"])
            assert api.invoke("Get-CASMailbox", {"ResultSize": "Unlimited"}).status == 200
            server.expire_tokens()
            assert api.invoke("Get-TransportConfig").status == 401
        finally:
            server.stop()
        server.stop()  # idempotent
        gc.collect()

    assert sim_threads() == threads_before  # the server thread was joined
    assert not [w for w in caught if issubclass(w.category, ResourceWarning | RuntimeWarning)], [
        str(w.message) for w in caught
    ]


def test_two_servers_get_different_ports() -> None:
    with SimServer() as one, SimServer() as two:
        assert one.port != two.port
        assert one.identity_header != two.identity_header


def test_standalone_cli_serves_until_sigterm() -> None:
    command = [sys.executable, "-m", "sim", "--port", "0", "--mailboxes", "300", "--enabled-overrides", "5",
               "--identity-header", "cli-secret", "--latency-ms", "1", "--latency-ms-per-kb", "0.01"]  # fmt: skip
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            info = json.loads(proc.stdout.readline())
            assert info["url"].startswith("http://127.0.0.1:")
            assert info["identity_endpoint"] == info["url"] + "/msi/token"
            assert info["identity_header"] == "cli-secret"
            assert info["mailboxes"] == 300
            assert info["overrides"] == {"false": 5, "true": 0}

            class _Remote:  # just enough of SimServer for mint_token
                identity_endpoint = info["identity_endpoint"]
                identity_header = info["identity_header"]

            assert mint_token(_Remote()).status == 200  # type: ignore[arg-type]
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=10)
        stderr = proc.stderr.read() if proc.stderr else ""
    assert code == 0, stderr
