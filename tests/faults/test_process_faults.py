"""The function killed between a remediation write and its audit outcome and run
record (docs/reliability.md)."""

from __future__ import annotations

import asyncio

import pytest

from shared.core.model import ActionStatus, Status
from shared.store.audit import AuditStore
from tests.integration.helpers import services

from .drift import drifted

pytestmark = pytest.mark.usefixtures("app_env")


async def test_killed_after_a_remediation_write_the_next_run_never_writes_again_and_the_intent_stays(
    sim, tenant_id, monkeypatch
):
    here = await drifted(sim, tenant_id, monkeypatch)
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
    assert len([c for c in sim.set_calls if c.status == 200]) == 1  # written, not audited, not recorded

    after = await here.check()
    assert after.status is Status.COMPLIANT and after.remediation is None  # read, found fixed
    assert len([c for c in sim.set_calls if c.status == 200]) == 1  # never written again
    async with services() as svc:
        trail = await svc.remediator.audit.list(tenant_id)
    # The intent the killed run recorded before writing is still there, for whoever asks.
    assert [(r.status, r.target) for r in trail] == [
        (ActionStatus.PLANNED, "user00003@faults.onmicrosoft.com")
    ]
