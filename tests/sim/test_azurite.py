"""The Azurite launcher starts only when its own process listens on its ports: a port
another process took is never mistaken for Azurite (a client would wait on a stranger
for azure-core's 300 s read timeout, retried: the storage-outage test's hang)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from sim.azurite import Azurite, PortTaken


@contextmanager
def listening_on(port: int) -> Iterator[socket.socket]:
    """Another process's server on ``port`` (SO_REUSEADDR, as Node's own)."""
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", port))
        other.listen()
        yield other


@pytest.mark.timeout(60)
def test_a_start_again_on_a_port_taken_meanwhile_fails_naming_it(tmp_path):
    azurite = Azurite(location=tmp_path / "azurite").start()
    azurite.stop()
    with listening_on(azurite.table_port), pytest.raises(PortTaken) as raised:
        azurite.start()
    assert f"127.0.0.1:{azurite.table_port}" in str(raised.value) and "EADDRINUSE" in str(raised.value)
    with pytest.raises(RuntimeError, match="not running"):
        _ = azurite.pid  # stopped, not left half-started


@pytest.mark.timeout(60)
def test_a_first_start_on_a_port_taken_moves_to_free_ones():
    azurite = Azurite()
    taken = azurite.table_port
    with listening_on(taken), azurite:
        assert azurite.table_port != taken
        with socket.create_connection(("127.0.0.1", azurite.table_port), timeout=2) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert b"Azurite-Table" in conn.recv(4096)
