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


REFUSED = {
    # fault id: arm the simulator for `n` answers of page 2 on (the retry policy is
    # production's, with short waits)
    "429-with-retry-after": lambda f, n: f.throttle(n, retry_after=0.2, only_paged=True),
    "429-without-retry-after": lambda f, n: f.throttle_without_retry_after(n, only_paged=True),
    "503": lambda f, n: f.unavailable(n, 503, only_paged=True),
    "504": lambda f, n: f.unavailable(n, 504, only_paged=True),
    "concurrent-requests": lambda f, n: f.concurrent_limit(n, only_paged=True),
}

BROKEN = {
    # fault id: (arm the simulator, what the error says)
    "truncated-200": (lambda f: f.broken_answer("truncated", times=None, only_paged=True), "not JSON"),
    "not-json-200": (lambda f: f.broken_answer("not_json", times=None, only_paged=True), "not JSON"),
    "connection-reset": (lambda f: f.broken_answer("reset", times=None, only_paged=True), "cut off"),
    "next-link-loop": (lambda f: f.broken_answer("repeat_next_link", only_paged=True), "paging loop"),
    "read-timeout": (lambda f: f.slow(5, times=None, only_paged=True), "no answer from Exchange Online"),
    # A storm that outlasts the retries (more answers than they ask for).
    **{
        f"{fault}-storm": (
            lambda f, arm=arm: arm(f, 1000),
            "still throttling or unavailable after every retry",
        )
        for fault, arm in REFUSED.items()
    },
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
    met = sum(sim.faults.fired.values())
    sim.faults.clear()
    assert met >= 1  # the fault was met, not armed for a request never sent
    await assert_could_not_check_and_nothing_changed(here, result, said)
    # And the next run, with Exchange whole again, sees what is really there.
    after = await here.check()
    assert after.status is Status.COMPLIANT and len(after.fixed) == 1  # page 1's rogue, fixed


@pytest.mark.parametrize("fault", list(REFUSED))
@pytest.mark.usefixtures("quick_retries")
async def test_a_short_storm_is_retried_and_the_check_and_its_fix_complete(
    sim, tenant_id, monkeypatch, fault
):
    here = await drifted(sim, tenant_id, monkeypatch)
    REFUSED[fault](sim.faults, 2)
    result = await here.check()
    assert sum(sim.faults.fired.values()) == 2  # both answers were met, and retried past
    assert result.status is Status.COMPLIANT and result.mailboxes_scanned == 1500, result.error
    assert len(result.fixed) == 1 and await here.open_findings() == 0  # page 1's rogue, once
    assert len([c for c in sim.set_calls if c.status == 200]) == 1


async def test_an_empty_403_is_could_not_check_naming_the_grant_and_changes_nothing(
    sim, tenant_id, monkeypatch
):
    here = await drifted(sim, tenant_id, monkeypatch)
    here.tenant.forbidden = ""  # the role or app role taken away: 403, no body at all
    result = await here.check()
    await assert_could_not_check_and_nothing_changed(here, result, "Exchange.ManageAsApp")


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


def _exchange_requests(sim) -> list:
    return [r for r in sim.requests if "/adminapi/" in r.path]


async def test_a_token_the_service_stops_taking_mid_scan_is_renewed_once_and_the_scan_completes(
    sim, tenant_id, monkeypatch
):
    here = await drifted(sim, tenant_id, monkeypatch)
    # While page 1 is in flight Exchange stops taking every token issued so far (a
    # revoked session, a clock off): page 2 is refused, a token past the cache is asked
    # for, and page 2 is sent again with it.
    sim.faults.slow(1.0, times=1, cmdlet="Get-CASMailbox")
    result = await here.check_while(sim.expire_tokens)
    assert result.status is Status.COMPLIANT and result.mailboxes_scanned == 1500, result.error
    assert len(result.fixed) == 1 and await here.open_findings() == 0
    requests = _exchange_requests(sim)
    refused = [i for i, r in enumerate(requests) if r.status == 401]
    assert len(refused) == 1, [(r.cmdlet, r.status) for r in requests]
    again = requests[refused[0] + 1]  # the same page, once, with the new token
    assert (again.cmdlet, again.query, again.status) == ("Get-CASMailbox", requests[refused[0]].query, 200)
    # Every token minted before the fault was expired, so the 200 carried a new one.


async def test_a_fresh_token_refused_too_is_could_not_check_saying_so_not_a_missing_role(
    sim, tenant_id, monkeypatch
):
    here = await drifted(sim, tenant_id, monkeypatch)
    sim.faults.refuse_token(times=None, only_paged=True)  # page 2 on: every token, fresh or not
    result = await here.check()
    sim.faults.clear()
    await assert_could_not_check_and_nothing_changed(here, result, "Exchange Online refused a fresh token")
    error = result.error or ""
    assert "clock" in error and "consent" in error and "Conditional Access" in error
    assert "Missing grant" not in error and "this is not a missing Exchange role" in error
    # Renewed once, not in a loop: page 2 was sent twice, both refused.
    paged = [r for r in _exchange_requests(sim) if "$skiptoken" in r.query]
    assert [r.status for r in paged] == [401, 401]


async def test_a_token_for_another_audience_is_refused_by_exchange_and_is_could_not_check(
    sim, tenant_id, monkeypatch
):
    here = await drifted(sim, tenant_id, monkeypatch)
    sim.expire_tokens()  # the cached token goes: the next one is minted wrong
    sim.identity_audience = "https://graph.microsoft.com"  # every token, whatever was asked
    try:
        result = await here.check()
    finally:
        sim.identity_audience = None
    await assert_could_not_check_and_nothing_changed(here, result, "refused")
    # Exchange's own reason reaches the person reading the result: the audience is wrong.
    assert "https://graph.microsoft.com" in (result.error or ""), result.error


async def test_a_missing_role_401_names_the_role_and_is_not_retried_with_a_new_token(
    sim, tenant_id, monkeypatch
):
    here = await drifted(sim, tenant_id, monkeypatch)
    here.tenant.exchange_role = False  # 401 "User is not allowed to call", with a Bearer challenge
    result = await here.check()
    await assert_could_not_check_and_nothing_changed(here, result, "Missing grant: an Exchange role")
    assert "refused a fresh token" not in (result.error or "")
    requests = _exchange_requests(sim)
    assert requests and all(r.status == 401 for r in requests)
    sent = [(r.cmdlet, tuple(sorted(r.query.items()))) for r in requests]
    assert len(sent) == len(set(sent)), sent  # each request once: no renewal, no retry


async def test_a_token_of_another_tenant_is_refused_by_exchange_and_is_could_not_check(
    sim, tenant_id, monkeypatch
):
    """The identity's tokens come from another directory (a misconfigured home tenant,
    a proxy's cache): Exchange refuses each with 401, the check says whose it was."""
    here = await drifted(sim, tenant_id, monkeypatch)
    other = "7e57a1e0-0000-4000-8000-0000000000aa"
    sim.identity_tenant = other
    try:
        result = await here.check()
    finally:
        sim.identity_tenant = tenant_id
    await assert_could_not_check_and_nothing_changed(here, result, f"issued in tenant '{other}'")
    refused = [r for r in _exchange_requests(sim) if r.status == 401]
    assert refused and all(r.token_tenant == other for r in refused)
    assert len(refused) <= 2  # renewed once at most, never in a loop
