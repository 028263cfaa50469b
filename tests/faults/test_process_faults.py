"""The function killed between a remediation write and its audit outcome and run
record (docs/reliability.md), and how the next runs settle what it left."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.smtp_auth import SmtpAuthClient
from shared.core.fanout import CheckMessage
from shared.core.model import ActionStatus, Status
from shared.shell.runtime import utc_now
from shared.store.audit import AuditStore
from tests.integration.helpers import services

from .drift import Drifted, drifted
from .queue_worker import enqueue, killed_when

pytestmark = pytest.mark.usefixtures("app_env")

ROGUE = "user00003@faults.onmicrosoft.com"  # the drift the killed run fixes; user01200 was fixed by hand


def later(minutes: int):
    """A clock past the remediation lock's lease (15 min): the killed run cannot be alive."""
    return lambda: utc_now() + timedelta(minutes=minutes)


async def killed_at_the_outcome(here: Drifted, monkeypatch) -> None:
    """One remediating run that records its intent, writes, and dies before its outcome."""
    append = AuditStore.append
    calls = []

    async def dies_at_the_outcome(self, *args, **kwargs):
        calls.append(args)
        if len(calls) == 2:  # the intent is recorded, the write is made: the process dies here
            raise asyncio.CancelledError
        return await append(self, *args, **kwargs)

    monkeypatch.setattr(AuditStore, "append", dies_at_the_outcome)
    with pytest.raises(asyncio.CancelledError):
        await here.check()
    monkeypatch.setattr(AuditStore, "append", append)
    assert len(writes(here)) == 1  # written, not audited, not recorded


def writes(here: Drifted) -> list:
    return [c for c in here.sim.set_calls if c.status == 200]


async def trail(tenant_id: str) -> list[tuple[str, ActionStatus, str]]:
    async with services() as svc:
        return [(r.source, r.status, r.target) for r in await svc.remediator.audit.list(tenant_id)]


async def test_killed_after_a_remediation_write_the_next_run_never_writes_again_and_the_intent_stays(
    sim, tenant_id, monkeypatch
):
    here = await drifted(sim, tenant_id, monkeypatch)
    await killed_at_the_outcome(here, monkeypatch)

    after = await here.check()
    assert after.status is Status.COMPLIANT  # read, found fixed
    assert len(writes(here)) == 1  # never written again
    # The killed run may still be at work for all this run knows: its drift is neither
    # resolved nor fixed yet, only the one fixed by hand is resolved.
    assert after.remediation is not None and [f.target for f in after.remediation.unsettled] == [ROGUE]
    assert [f.target for f in after.diff.resolved] == ["user01200@faults.onmicrosoft.com"]
    assert after.fixed == () and await here.open_findings() == 1
    # The intent the killed run recorded before writing is still there, for whoever asks.
    assert await trail(tenant_id) == [("remediation", ActionStatus.PLANNED, ROGUE)]


async def test_killed_after_a_remediation_write_the_next_run_settles_the_intent_and_tells_it_fixed(
    sim, tenant_id, monkeypatch
):
    here = await drifted(sim, tenant_id, monkeypatch)
    await killed_at_the_outcome(here, monkeypatch)
    posted = len(sim.teams_posts)
    young = await here.check()  # within the lease: kept open, nothing told of it
    assert young.fixed == () and not any(ROGUE in p for p in here.posts()[posted:])

    after = await here.check(clock=later(20))
    assert after.status is Status.COMPLIANT and len(writes(here)) == 1  # never written again
    assert [f.target for f in after.fixed] == [ROGUE] and [f.target for f in after.diff.fixed] == [ROGUE]
    assert after.diff.resolved == () and await here.open_findings() == 0
    (settled,) = after.remediation.results
    assert settled.status is ActionStatus.APPLIED and "interrupted" in settled.reason
    # Told as a run that recorded its own outcome tells it: fixed by remediation, once.
    card = here.posts()[-1]
    assert "SMTP AUTH drift fixed by remediation in faults.onmicrosoft.com" in card
    assert "Fixed by remediation (1)" in card and ROGUE in card and "Resolved" not in card
    # The intent stays; its outcome follows under the killed run's id, from this run's read.
    async with services() as svc:
        rows = await svc.remediator.audit.list(tenant_id)
    assert [(r.source, r.status, r.target) for r in rows] == [
        ("settle", ActionStatus.APPLIED, ROGUE),
        ("remediation", ActionStatus.PLANNED, ROGUE),
    ]
    assert rows[0].run_id == rows[1].run_id and "read back by run" in rows[0].reason

    told = len(sim.teams_posts)
    again = await here.check(clock=later(40))  # settled once: nothing more to say or record
    assert again.remediation is None and again.fixed == () and len(sim.teams_posts) == told
    assert len(await trail(tenant_id)) == 2 and len(writes(here)) == 1


async def test_killed_before_its_write_landed_the_intent_is_settled_not_applied_and_fixed_again(
    sim, tenant_id, monkeypatch
):
    here = await drifted(sim, tenant_id, monkeypatch)
    set_mailboxes = SmtpAuthClient.set_mailboxes

    async def dies_before_sending(self, *args, **kwargs):
        raise asyncio.CancelledError  # the intent is recorded; the process dies before the write

    monkeypatch.setattr(SmtpAuthClient, "set_mailboxes", dies_before_sending)
    with pytest.raises(asyncio.CancelledError):
        await here.check()
    monkeypatch.setattr(SmtpAuthClient, "set_mailboxes", set_mailboxes)
    assert writes(here) == []

    after = await here.check(clock=later(20))
    # Settled as not applied (never told), then remediation's guard rails fix it as usual.
    assert after.status is Status.COMPLIANT and len(writes(here)) == 1
    assert [(r.status, r.action.target) for r in after.remediation.results] == [(ActionStatus.APPLIED, ROGUE)]
    assert "done and read back" in after.remediation.results[0].reason
    async with services() as svc:
        rows = await svc.remediator.audit.list(tenant_id)
    assert [(r.source, r.status) for r in rows] == [
        ("remediation", ActionStatus.APPLIED),  # this run's outcome
        ("remediation", ActionStatus.PLANNED),  # this run's intent
        ("settle", ActionStatus.FAILED),  # the killed run's, settled
        ("remediation", ActionStatus.PLANNED),  # the killed run's intent
    ]
    assert rows[2].reason.startswith("not applied (interrupted)") and rows[2].run_id == rows[3].run_id


async def test_two_runs_after_a_killed_one_settle_its_intent_once_and_tell_it_fixed_once(
    sim, tenant_id, monkeypatch
):
    here = await drifted(sim, tenant_id, monkeypatch)
    await killed_at_the_outcome(here, monkeypatch)
    await here.check()  # within the lease: records the hand fix resolved, keeps the rogue open

    # Overlapping (a CLI check beside the timer's): one takes the lock and settles.
    first, second = await asyncio.gather(here.check(clock=later(20)), here.check(clock=later(20)))
    assert len(writes(here)) == 1
    assert [f.target for r in (first, second) for f in r.fixed] == [ROGUE]
    assert not any(ROGUE in f.target for r in (first, second) for f in (*r.diff.opened, *r.diff.resolved))
    assert [s for s, _, _ in await trail(tenant_id)] == ["settle", "remediation"]
    fixed = [p for p in here.posts() if "Fixed by remediation (1)" in p]
    assert len(fixed) == 1 and ROGUE in fixed[0]


@pytest.mark.timeout(60)
async def test_a_process_killed_after_exchange_applied_its_write_holds_the_lock_until_its_lease_ends(
    sim, app_env, tenant_id, monkeypatch, tmp_path
):
    """A real kill (SIGKILL, a host instance recycled): no ``finally`` runs, so the
    remediation lock and the check lease stay held until their leases end."""
    here = await drifted(sim, tenant_id, monkeypatch)
    # The next tick, after the drifted check (to the microsecond: else a duplicate).
    await enqueue(app_env, CheckMessage(tenant_id, datetime.now(UTC)).to_text())
    # Exchange makes the worker's write, then holds its answer while the worker is killed.
    sim.faults.slow(20, times=1, cmdlet="Set-CASMailbox", tenant=tenant_id, after_apply=True)
    await killed_when(
        lambda: sim.faults.fired.get("slow"),
        "Exchange applies the worker's Set-CASMailbox",
        hold_s=60,
        output=tmp_path / "worker.log",
        within_s=40,
    )
    assert len(writes(here)) == 1 and here.tenant.mailbox_at(3).smtp_auth_disabled is True
    async with services() as svc:
        (intent,) = await svc.remediator.audit.list(tenant_id)  # the intent, no outcome
        holder = await svc.remediator.lock.holder(tenant_id)
        assert await svc.check_lease.holder(tenant_id) is not None  # its check lease too
        assert len(await svc.history.runs(tenant_id)) == 1  # the drifted check's: no run record
    assert (intent.source, intent.status, intent.target) == ("remediation", ActionStatus.PLANNED, ROGUE)
    # The lock row is left as the dead run took it: held, its lease running.
    assert holder is not None and holder.owner == intent.run_id and holder.expires_at > utc_now()

    posted = len(sim.teams_posts)
    young = await here.check()  # within the lease: writes nothing, keeps the finding open
    assert young.status is Status.COMPLIANT and young.fixed == () and len(writes(here)) == 1
    assert young.remediation is not None and [f.target for f in young.remediation.unsettled] == [ROGUE]
    assert ROGUE not in [f.target for f in young.diff.resolved] and await here.open_findings() == 1
    assert not any(ROGUE in p for p in here.posts()[posted:])

    after = await here.check(clock=later(20))  # the lease has ended: settled, told once
    assert after.status is Status.COMPLIANT and len(writes(here)) == 1  # never written again
    assert [f.target for f in after.fixed] == [ROGUE] and after.diff.resolved == ()
    assert await here.open_findings() == 0
    async with services() as svc:
        rows = await svc.remediator.audit.list(tenant_id)
        assert await svc.remediator.lock.holder(tenant_id) is None  # taken over, then released
    assert [(r.source, r.status, r.target, r.run_id) for r in rows] == [
        ("settle", ActionStatus.APPLIED, ROGUE, intent.run_id),
        ("remediation", ActionStatus.PLANNED, ROGUE, intent.run_id),
    ]
    assert "read back by run" in rows[0].reason

    await here.check(clock=later(40))  # nothing left to settle, tell or write
    fixed = [p for p in here.posts() if "Fixed by remediation" in p]
    assert len(fixed) == 1 and ROGUE in fixed[0] and len(writes(here)) == 1
    assert len(await trail(tenant_id)) == 2
