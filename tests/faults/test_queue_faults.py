"""A queue worker killed mid-check: no second check while its lease runs, one check
after it expires, a duplicate message after that checks nothing (docs/reliability.md)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from shared.core.fanout import CheckMessage
from shared.core.model import Status
from shared.shell.worker import Outcome, check_message
from shared.store.lock import CHECK_LEASE
from tests.integration.helpers import services
from tests.integration.notify_helpers import start_clock

from .drift import drifted

pytestmark = pytest.mark.usefixtures("app_env")


async def test_a_worker_killed_mid_check_is_completed_once_after_its_lease_expires(
    sim, tenant_id, monkeypatch
):
    here = await drifted(sim, tenant_id, monkeypatch)
    clock = start_clock()
    first = CheckMessage(tenant_id, clock.now - timedelta(seconds=5)).to_text()
    sim.faults.slow(3, times=1, only_paged=True)  # the worker dies while page 2 is read
    async with services(clock) as svc:
        worker = asyncio.create_task(check_message(svc, first))
        # The simulator runs in another thread: polling its record is the way to see page 2 start.
        while not any(r.query.get("$skiptoken") for r in sim.requests if r.cmdlet == "Get-CASMailbox"):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker
        # A killed process releases nothing: its lease stays until it runs out.
        assert await svc.check_lease.acquire(tenant_id, "worker-killed", clock())
        sim.faults.clear()

        # The host shows the message again (visibility timeout): the lease still runs.
        assert (await check_message(svc, first, dequeue_count=2)).outcome is Outcome.BUSY
        clock.advance(seconds=CHECK_LEASE.total_seconds() + 1)
        nxt = CheckMessage(tenant_id, clock.now).to_text()  # the next tick's message
        done = await check_message(svc, nxt)
        assert done.outcome is Outcome.CHECKED and done.result.status is Status.COMPLIANT
        assert (await check_message(svc, nxt, dequeue_count=2)).outcome is Outcome.DUPLICATE
        runs = await svc.history.runs(tenant_id)
    assert len(runs) == 2  # the first check's and this one: the killed one recorded nothing
    assert len([c for c in sim.set_calls if c.status == 200]) == 1  # one write, never repeated
    assert len([p for p in here.posts() if "fixed" in p.lower()]) == 1
