"""exception-uses-basic-auth over the simulator and Azurite: found by the check (one
sign-in read, shared with remediation), queued once when it first appears, kept open
while the logs cannot be read, and no sign-in read at all where no exception needs it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.core.model import FindingKind, Mode, Status
from shared.shell.cycle import run_cycle
from sim.signin_mix import usage_mix

from .helpers import approved, services
from .notify_helpers import notified_policy, start_clock

pytestmark = pytest.mark.usefixtures("app_env")
KIND = FindingKind.EXCEPTION_USES_BASIC_AUTH


def sign_in_reads(sim, since: int = 0) -> int:
    return len([r for r in sim.requests[since:] if r.cmdlet == "signIns"])


def at_risk(result):
    return [f for f in result.findings if f.kind is KIND]


async def test_found_once_told_once_and_kept_while_the_logs_are_unreadable(sim, tenant_id):
    domain = "atrisk.onmicrosoft.com"
    tenant = sim.add_tenant(tenant_id, domain)
    tenant.seed(20, overrides={3: False, 4: False})
    printer, rogue = tenant.mailbox_at(3), tenant.mailbox_at(4)
    clock = start_clock()
    for entry in usage_mix(clock.now - timedelta(minutes=1), basic=[printer], days=5):
        sim.add_sign_in(entry)
    async with services(clock) as svc:
        # GraceHours 0: the rogue override is fixed in this run, on the same read of the logs.
        policy = notified_policy(tenant_id, domain, mode=Mode.REMEDIATE, grace_hours=0)
        await svc.desired.put_tenant(policy)
        await svc.desired.put_exception(tenant_id, approved(printer))
        first = await run_cycle(svc, deliver=False)
        (result,) = first.results
        (finding,) = at_risk(result)
        assert finding.target == printer.address and "Basic-auth SMTP AUTH" in finding.message
        # The rogue override was fixed on the same read of the logs: one request, not two.
        assert [f.target for f in result.fixed] == [rogue.address]
        assert result.status is Status.COMPLIANT and sign_in_reads(sim) == 1
        assert first.queued > 0

        clock.advance(minutes=15)
        second = await run_cycle(svc, deliver=False)
        assert at_risk(second.results[0]) == [finding] and second.queued == 0  # told once

        sim.graph_premium = False  # the logs cannot be read: unknown, not resolved
        clock.advance(minutes=15)
        third = await run_cycle(svc, deliver=False)
        (result,) = third.results
        assert at_risk(result) == [finding] and not result.diff.resolved and third.queued == 0


async def test_no_sign_in_read_where_no_exception_needs_judging(sim, tenant_id):
    domain = "noexc.onmicrosoft.com"
    sim.add_tenant(tenant_id, domain).seed(20, overrides={3: True})
    async with services() as svc:
        await svc.desired.put_tenant(notified_policy(tenant_id, domain))
        before = len(sim.requests)
        (result,) = (await run_cycle(svc, deliver=False)).results
    assert result.status is Status.COMPLIANT and sign_in_reads(sim, before) == 0
