"""A queue worker process killed (SIGKILL) mid-check, over the real Azurite queues:
no second check while its lease runs, one check after it expires, and a duplicate
message after that checks nothing (docs/reliability.md)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from shared.core.fanout import CheckMessage
from shared.core.model import Status
from shared.shell.worker import Outcome, Work, check_message
from shared.store.lock import CHECK_LEASE
from tests.integration.helpers import services
from tests.integration.notify_helpers import start_clock
from tests.integration.queue_host import QueueHost, load_functions, raw_queue

from .drift import drifted
from .queue_worker import enqueue, killed_when

pytestmark = pytest.mark.usefixtures("app_env")

HOLD_S = 2  # the dead instance's hold on its message: the host shows it again after this


async def visible(app_env) -> int:
    async with raw_queue(app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_CHECK_QUEUE"]) as queue:
        return len(await queue.peek_messages(32))


def exchange_requests_since(sim, tenant_id: str, since: float) -> list:
    return [r for r in sim.requests if r.tenant == tenant_id and r.at >= since]


@pytest.mark.timeout(90)
async def test_a_worker_killed_mid_check_is_completed_once_after_its_lease_expires(
    sim, app_env, tenant_id, monkeypatch, tmp_path
):
    here = await drifted(sim, tenant_id, monkeypatch)
    # The next tick, after the drifted check (to the microsecond: a tick not after its
    # LastChecked is a duplicate, and would check nothing).
    first = CheckMessage(tenant_id, datetime.now(UTC)).to_text()
    await enqueue(app_env, first)
    sim.faults.slow(10, times=1, only_paged=True, tenant=tenant_id)  # the worker dies while page 2 is read
    await killed_when(
        lambda: sim.faults.fired.get("slow"),
        "the worker reads page 2",
        hold_s=HOLD_S,
        output=tmp_path / "worker.log",
    )
    killed_at = time.time()
    assert sim.set_calls == []  # it died reading: nothing written
    functions = load_functions()
    async with services() as svc:
        # A killed process releases nothing: its lease stays until it runs out.
        holder = await svc.check_lease.holder(tenant_id)
        assert holder is not None and holder.expires_at > start_clock().now

    # The host shows the message again when the dead instance's hold lapses; the
    # lease still runs, so the production function checks nothing and is done with it.
    deadline = time.monotonic() + 30
    while not await visible(app_env):
        assert time.monotonic() < deadline, "the killed worker's message never came back"
        await asyncio.sleep(0.05)
    retried = await QueueHost(
        app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_CHECK_QUEUE"], functions["check_tenant"],
        name="check_tenant", timeout_s=10,
    ).drain(1)  # fmt: skip
    assert retried.calls["check_tenant"] == 1 and retried.failures == [] and retried.poisoned == []
    assert exchange_requests_since(sim, tenant_id, killed_at) == []  # no second check
    assert await visible(app_env) == 0  # BUSY is an outcome: the message is deleted

    # The lease has run out by the next tick: that message is one check, one write.
    clock = start_clock()
    clock.advance(seconds=CHECK_LEASE.total_seconds() + 1)
    nxt = CheckMessage(tenant_id, clock.now).to_text()
    done: list[Work] = []
    async with services(clock) as svc:

        async def check_tenant(msg) -> None:
            done.append(await check_message(svc, msg.get_body().decode(), dequeue_count=msg.dequeue_count))

        host = QueueHost(
            app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_CHECK_QUEUE"], check_tenant,
            name="check_tenant", timeout_s=10,
        )  # fmt: skip
        await enqueue(app_env, nxt)
        await host.drain(1)
        checked = len(sim.requests)
        await enqueue(app_env, nxt)  # the same message delivered again
        await host.drain(1)
        runs = await svc.history.runs(tenant_id)
    assert [w.outcome for w in done] == [Outcome.CHECKED, Outcome.DUPLICATE]
    assert done[0].result.status is Status.COMPLIANT and len(done[0].result.fixed) == 1
    assert len(sim.requests) == checked  # the duplicate read nothing
    assert len(runs) == 2  # the drifted check's and this one: the killed one recorded nothing
    assert len([c for c in sim.set_calls if c.status == 200]) == 1  # one write, never repeated
    assert len([p for p in here.posts() if "fixed" in p.lower()]) == 1  # told once
