"""The managed identity's token endpoint down, failing or silent while a remediating
tenant is due: could not check, saying it was the identity; nothing reaches Exchange,
no finding is lost, told once (by Teams, which needs no token)."""

from __future__ import annotations

import socket

import pytest

from .drift import assert_could_not_check_and_nothing_changed, drifted

pytestmark = pytest.mark.usefixtures("app_env")


def closed_loopback_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("fault", ["refused-connection", "500", "never-answers"])
@pytest.mark.timeout(120)
async def test_no_token_is_could_not_check_saying_so_and_nothing_reaches_exchange(
    sim, tenant_id, monkeypatch, fault
):
    here = await drifted(sim, tenant_id, monkeypatch)
    if fault == "refused-connection":
        monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{closed_loopback_port()}/msi/token")
        said = "could not reach the managed identity endpoint at IDENTITY_ENDPOINT"
    elif fault == "500":
        sim.faults.fail(500, "An unexpected error occurred.", times=None, service="identity")
        said = "could not get a token for Exchange Online from the identity"
    else:
        sim.faults.slow(60, times=None, service="identity")  # each read gives up (5 s, twice)
        said = "could not reach the managed identity endpoint at IDENTITY_ENDPOINT"
    result = await here.check()
    sim.faults.clear()
    assert not [r for r in sim.requests if "/adminapi/" in r.path]  # nothing reached Exchange
    await assert_could_not_check_and_nothing_changed(here, result, said)
