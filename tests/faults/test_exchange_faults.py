"""Exchange answers that are not whole: each is "could not check", resolves nothing,
writes nothing, and is told once (docs/reliability.md)."""

from __future__ import annotations

import functools

import pytest

import shared.shell.runtime as runtime_module
from shared.adapters.tenant_clients import TenantClients
from shared.core.model import Status

from .drift import assert_could_not_check_and_nothing_changed, drifted

pytestmark = pytest.mark.usefixtures("app_env")


@pytest.fixture
def quick_retries(monkeypatch):
    """The production retry policy with short waits and a short read timeout, so a
    fault that never ends is given up on in seconds, not minutes."""
    fast = functools.partial(TenantClients, retry_backoff_factor=0.05, retry_backoff_max=0.2, read_timeout=1)
    monkeypatch.setattr(runtime_module, "TenantClients", fast)


BROKEN = {
    # fault id: (arm the simulator, what the error says)
    "truncated-200": (lambda f: f.broken_answer("truncated", times=None, only_paged=True), "not JSON"),
    "not-json-200": (lambda f: f.broken_answer("not_json", times=None, only_paged=True), "not JSON"),
    "connection-reset": (lambda f: f.broken_answer("reset", times=None, only_paged=True), "cut off"),
    "next-link-loop": (lambda f: f.broken_answer("repeat_next_link", only_paged=True), "paging loop"),
    "read-timeout": (lambda f: f.slow(5, times=None, only_paged=True), "no answer from Exchange Online"),
}


@pytest.mark.parametrize("fault", list(BROKEN))
@pytest.mark.usefixtures("quick_retries")
async def test_a_page_that_is_not_whole_is_could_not_check_and_changes_nothing(
    sim, tenant_id, monkeypatch, fault
):
    here = await drifted(sim, tenant_id, monkeypatch)
    arm, said = BROKEN[fault]
    arm(sim.faults)
    result = await here.check()
    sim.faults.clear()
    await assert_could_not_check_and_nothing_changed(here, result, said)
    # And the next run, with Exchange whole again, sees what is really there.
    after = await here.check()
    assert after.status is Status.COMPLIANT and len(after.fixed) == 1  # page 1's rogue, fixed


async def test_a_connection_reset_once_is_retried_and_the_read_completes(sim, tenant_id, monkeypatch):
    here = await drifted(sim, tenant_id, monkeypatch)
    sim.faults.broken_answer("reset", times=1, only_paged=True)
    result = await here.check()
    assert result.status is Status.COMPLIANT and result.mailboxes_scanned == 1500
    assert len(result.fixed) == 1  # page 1's rogue, fixed after a whole read
    assert await here.open_findings() == 0


async def test_a_tenant_that_disappears_is_could_not_check_and_keeps_its_findings(
    sim, tenant_id, monkeypatch
):
    here = await drifted(sim, tenant_id, monkeypatch)
    sim.remove_tenant(tenant_id)  # deleted, or the consent's tenant moved away: 404
    result = await here.check()
    await assert_could_not_check_and_nothing_changed(here, result, "could not be found")


async def test_a_token_that_expires_mid_scan_is_renewed_and_the_scan_completes(sim, tenant_id, monkeypatch):
    here = await drifted(sim, tenant_id, monkeypatch)
    sim.token_lifetime_s = 2.0  # issued at the start of the scan, expired before its end
    sim.faults.slow(2.5, times=1, only_paged=True)
    try:
        result = await here.check()
    finally:
        sim.token_lifetime_s = 3600
    assert result.status is Status.COMPLIANT and result.mailboxes_scanned == 1500
    assert len(result.fixed) == 1 and sim.token_requests >= 2  # a new token before it ran out
    assert all(r.status == 200 for r in sim.requests if "/adminapi/" in r.path)


async def test_a_token_the_service_stops_taking_mid_scan_is_could_not_check(sim, tenant_id, monkeypatch):
    here = await drifted(sim, tenant_id, monkeypatch)
    # While page 1 is in flight Exchange stops taking every token issued so far (a
    # revoked grant, a clock off): page 2 is refused.
    sim.faults.slow(1.0, times=1, cmdlet="Get-CASMailbox")
    result = await here.check_while(sim.expire_tokens)
    await assert_could_not_check_and_nothing_changed(here, result, "401")
