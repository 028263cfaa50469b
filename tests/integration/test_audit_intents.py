"""The audit trail's read for settling interrupted runs (AuditStore.intents), on Azurite:
the planned rows of the newest runs since a time, with those runs' later rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from shared.core.interrupted import RUNS_LOOKED_AT, Settled, unsettled
from shared.core.model import Action, ActionKind, ActionResult, ActionStatus, FindingKind
from shared.shell.runtime import utc_now

from .helpers import services

pytestmark = pytest.mark.usefixtures("app_env")


def intent(n: int) -> ActionResult:
    action = Action(
        ActionKind.SET_MAILBOX,
        f"user{n}@contoso.com",
        False,
        True,
        FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION,
        mailbox_guid=f"00000000-0000-0000-0000-{n:012d}",
    )
    return ActionResult(action, ActionStatus.PLANNED, "intent")


async def test_intents_are_the_newest_runs_planned_rows_with_their_outcomes_and_settlements(tenant_id):
    start = utc_now() - timedelta(hours=3)
    async with services() as svc:
        audit = svc.remediator.audit
        for n in range(13):  # one run a minute; every third records its outcome, the others die
            at, run = start + timedelta(minutes=n), f"run{n:02d}"
            # A held row of every run, in the same run: it settles no planned row.
            held = replace(intent(99), status=ActionStatus.HELD)
            await audit.append(tenant_id, run, at, [intent(n), held], "remediation")
            if n % 3 == 0:
                done = replace(intent(n), status=ActionStatus.APPLIED)
                await audit.append(tenant_id, run, at + timedelta(seconds=5), [done], "remediation")
        # run04 is settled by a later run, under its own id.
        settled = replace(intent(4), status=ActionStatus.FAILED)
        await audit.settle(tenant_id, utc_now(), [Settled("run04", settled, "sign-in logs read")])
        rows = await audit.intents(tenant_id, start + timedelta(seconds=30))  # run00 is older

    assert sorted({r.run_id for r in rows}) == [f"run{n:02d}" for n in range(3, 13)]  # the newest 10
    assert len({r.run_id for r in rows}) == RUNS_LOOKED_AT
    left = [r.run_id for r in unsettled(rows)]
    assert left == ["run05", "run07", "run08", "run10", "run11"]
