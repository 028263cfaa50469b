"""The fan-out through real Azurite queues: the timer enqueues one Base64 message per
due tenant, the queue trigger checks one tenant per message, a failing tenant never
holds up another, a message the host gives up on is recorded and told, and a message
delivered twice (or a tenant still being checked) runs one check at a time and tells
people once. The host's own part is played by tests/integration/queue_host.py."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import timedelta

import pytest
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest

from shared.core.fanout import CheckMessage
from shared.core.model import Status, TenantPolicy
from shared.shell.tick import fan_out
from shared.shell.worker import Outcome, check_message

from .helpers import services
from .notify_helpers import SENDER, TEAMS_SETTING, card_text, notified_policy, start_clock
from .queue_host import HOST, QueueHost, drain_all, load_functions, raw_queue

pytestmark = pytest.mark.usefixtures("app_env")


@pytest.fixture(autouse=True)
def webhook(sim, monkeypatch) -> None:
    monkeypatch.setenv(TEAMS_SETTING, sim.add_teams_webhook())
    monkeypatch.setenv("SMTPAUTH_MAIL_SENDER", SENDER)


def new_tenants(app, count: int, **seed) -> dict[str, str]:
    """Customer tenants reached through the multi-tenant app (a token names one
    tenant: the home identity cannot read them)."""
    sim = app.sim
    out = {}
    for n in range(count):
        tenant_id = str(uuid.uuid4())
        domain = f"fan{n}-{tenant_id[:6]}.onmicrosoft.com"
        sim.add_tenant(tenant_id, domain, **seed).seed(5)
        app.consent(tenant_id)
        out[tenant_id] = domain
    return out


async def queued_bodies(app_env) -> list[str]:
    """What is on the check queue, as the trigger would decode it (Base64 -> text)."""
    async with raw_queue(app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_CHECK_QUEUE"]) as queue:
        return [base64.b64decode(m.content, validate=True).decode() for m in await queue.peek_messages(32)]


async def malform(svc, tenant_id: str) -> None:
    """A hand-edited exception row with an expiry nobody can read: the tenant's row
    (and its recipients) stay readable, so its could-not-check is told."""
    row = {"PartitionKey": tenant_id, "RowKey": "exception:x", "Mailbox": "scan@x.example",
           "Approver": "ciso@x.example", "Reason": "scanner", "Expires": "soon"}  # fmt: skip
    await svc.desired._table.upsert_entity(row)


def posts_for(sim, domain: str) -> list[str]:
    return [t for t in (card_text(p.card) for p in sim.teams_posts) if domain in t]


async def test_the_timer_enqueues_one_base64_message_per_enabled_tenant_and_checks_nothing(
    sim, app_env, customer_app
):
    tenants = new_tenants(customer_app, 3)
    off_id, off_domain = next(iter(new_tenants(customer_app, 1).items()))
    async with services() as svc:
        for tenant_id, domain in tenants.items():
            await svc.desired.put_tenant(TenantPolicy(tenant_id, domain))
        await svc.desired.put_tenant(TenantPolicy(off_id, off_domain, enabled=False))
    functions = load_functions()
    sim.reset_records()

    await functions["scheduled_check"](TimerRequest(past_due=False))

    bodies = await queued_bodies(app_env)
    assert sorted(CheckMessage.from_text(b).tenant for b in bodies) == sorted(tenants)
    assert all(json.loads(b)["v"] == 1 for b in bodies)
    assert [r for r in sim.requests if "/adminapi/" in r.path] == []  # the timer only decides
    async with services() as svc:
        for tenant_id in tenants:
            assert await svc.history.runs(tenant_id) == []
        timer = await svc.health.timer()
    assert (timer.due, timer.enqueued) == (3, 3) and timer.last_run is not None


async def test_a_tenant_with_an_interval_is_enqueued_only_when_it_is_due(sim, app_env, customer_app):
    tenants = new_tenants(customer_app, 2)
    hourly, every_tick = tenants
    clock = start_clock()
    async with services(clock) as svc:
        await svc.desired.put_tenant(TenantPolicy(hourly, tenants[hourly], interval_minutes=60))
        await svc.desired.put_tenant(TenantPolicy(every_tick, tenants[every_tick]))
        due = []
        for _ in range(5):  # ticks at 0, 15, 30, 45, 60 minutes (a few seconds late or early)
            due.append(set((await fan_out(svc)).enqueued))
            clock.advance(minutes=15, seconds=-2)
    assert [hourly in d for d in due] == [True, False, False, False, True]
    assert all(every_tick in d for d in due)


async def test_the_timer_enqueues_the_largest_tenants_first_once_it_knows_their_size(
    sim, app_env, customer_app
):
    tenants = new_tenants(customer_app, 3)
    small, large, unread = tenants
    sim.tenant(large).seed(1_195, prefix="big")  # 1,200 in all
    async with services() as svc:
        for tenant_id, domain in tenants.items():
            await svc.desired.put_tenant(TenantPolicy(tenant_id, domain))
        await fan_out(svc)
    functions = load_functions()
    for tenant_id in (small, large):  # the unread one's message is not taken yet
        body = CheckMessage(tenant_id, start_clock().now).to_text().encode()
        await functions["check_tenant"](QueueMessage(id=tenant_id, body=body, dequeue_count=1))
    clock = start_clock()
    clock.advance(minutes=16)
    async with services(clock) as svc:
        assert (await svc.health.tenant(large)).mailboxes == 1_200
        assert (await svc.health.tenant(small)).mailboxes == 5
        # The next tick: a tenant never read first, then by size, so a cycle does not
        # end waiting on a large tenant that started last.
        assert (await fan_out(svc)).due == (unread, large, small)


async def test_the_queue_function_checks_the_one_tenant_its_message_names(sim, app_env, customer_app):
    tenants = new_tenants(customer_app, 2, org_smtp_auth_disabled=False)
    async with services() as svc:
        for tenant_id, domain in tenants.items():
            await svc.desired.put_tenant(notified_policy(tenant_id, domain))
        await fan_out(svc)
    functions = load_functions()
    first, second = tenants
    body = CheckMessage(first, start_clock().now - timedelta(seconds=5)).to_text().encode()

    await functions["check_tenant"](QueueMessage(id="m1", body=body, dequeue_count=1))

    async with services() as svc:
        (run,) = await svc.history.runs(first)
        assert run.status is Status.DRIFT
        assert await svc.history.runs(second) == []
        health = await svc.health.tenant(first)
    assert health.last_status is Status.DRIFT and health.last_success == run.checked_at
    assert health.open_findings == 1
    assert len(posts_for(sim, tenants[first])) == 1  # the worker delivers its tenant's news


async def test_a_failing_tenant_is_recorded_once_and_holds_up_no_other(sim, app_env, customer_app):
    tenants = new_tenants(customer_app, 4)
    forbidden, throttled, malformed, healthy = tenants
    sim.tenant(forbidden).forbidden = "The identity has no Exchange role"
    sim.faults.throttle(times=None, retry_after=0.05, tenant=throttled)  # past all 6 retries
    async with services() as svc:
        for tenant_id, domain in tenants.items():
            await svc.desired.put_tenant(notified_policy(tenant_id, domain))
        await malform(svc, malformed)
        await fan_out(svc)
    log = await drain_all(app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_CHECK_QUEUE"], load_functions())

    assert log.failures == [] and log.poisoned == []  # a could-not-check is an outcome, not a retry
    assert log.calls["check_tenant"] == 4
    async with services() as svc:
        runs = {t: await svc.history.runs(t) for t in tenants}
    assert [r.status for r in runs[healthy]] == [Status.COMPLIANT]
    for tenant_id in (forbidden, throttled, malformed):
        (run,) = runs[tenant_id]
        assert run.status is Status.ERROR
    assert "Exchange Online refused access" in runs[forbidden][0].error
    assert "Expires" in runs[malformed][0].error
    for tenant_id in (forbidden, throttled, malformed):
        assert len(posts_for(sim, tenants[tenant_id])) == 1, tenant_id  # told once


async def test_a_check_that_never_finishes_lands_in_poison_and_is_recorded_and_told_once(
    sim, app_env, customer_app
):
    tenants = new_tenants(customer_app, 2)
    hangs, fine = tenants
    sim.faults.slow(30, tenant=hangs)  # every attempt outlives the function timeout
    async with services() as svc:
        for tenant_id, domain in tenants.items():
            await svc.desired.put_tenant(notified_policy(tenant_id, domain))
        await fan_out(svc)
    functions = load_functions()
    log = await drain_all(
        app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_CHECK_QUEUE"], functions, timeout_s=1.0
    )

    assert [CheckMessage.from_text(b).tenant for b in log.poisoned] == [hangs]
    assert log.calls == {"check_tenant": HOST["maxDequeueCount"] + 1, "check_given_up": 1}
    async with services() as svc:
        (run,) = await svc.history.runs(hangs)
        assert [r.status for r in await svc.history.runs(fine)] == [Status.COMPLIANT]
        health = await svc.health.tenant(hangs)
    assert run.status is Status.ERROR and "did not finish" in run.error
    assert health.last_poisoned is not None and health.last_status is Status.ERROR
    (told,) = posts_for(sim, tenants[hangs])
    assert "did not finish" in told

    # The next tick's message is poisoned too: recorded again, not told again.
    async with services() as svc:
        await fan_out(svc)
    await drain_all(app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_CHECK_QUEUE"], functions, timeout_s=1.0)
    async with services() as svc:
        assert [r.status for r in await svc.history.runs(hangs)] == [Status.ERROR, Status.ERROR]
    assert len(posts_for(sim, tenants[hangs])) == 1


async def test_a_message_delivered_twice_runs_one_check_and_tells_once(sim, app_env, customer_app):
    tenants = new_tenants(customer_app, 1, org_smtp_auth_disabled=False)
    (tenant_id,) = tenants
    async with services() as svc:
        await svc.desired.put_tenant(notified_policy(tenant_id, tenants[tenant_id]))
        await fan_out(svc)
    async with raw_queue(app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_CHECK_QUEUE"]) as queue:
        (original,) = await queue.peek_messages()
        await queue.send_message(original.content)  # at-least-once: the same message again
    log = await drain_all(app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_CHECK_QUEUE"], load_functions())

    assert log.calls["check_tenant"] == 2
    async with services() as svc:
        assert len(await svc.history.runs(tenant_id)) == 1
    assert len(posts_for(sim, tenants[tenant_id])) == 1
    assert len([m for m in sim.sent_mails if tenants[tenant_id] in m.subject]) == 1


async def test_a_tenant_still_being_checked_is_not_checked_again_at_the_same_time(sim, app_env, customer_app):
    tenants = new_tenants(customer_app, 1, org_smtp_auth_disabled=False)
    (tenant_id,) = tenants
    clock = start_clock()
    sim.faults.slow(1.5, times=1, tenant=tenant_id)  # a long scan
    async with services(clock) as svc:
        await svc.desired.put_tenant(notified_policy(tenant_id, tenants[tenant_id]))
        tick1 = CheckMessage(tenant_id, clock.now).to_text()
        long_scan = asyncio.create_task(check_message(svc, tick1))
        await asyncio.sleep(0.5)  # the scan holds the lease now
        clock.advance(seconds=30)  # within the lease (renewal keeps it longer: test_lock.py)
        tick2 = CheckMessage(tenant_id, clock.now).to_text()  # a later tick, same tenant
        again = await check_message(svc, tick2)
        first = await long_scan
    assert again.outcome is Outcome.BUSY and first.outcome is Outcome.CHECKED
    async with services() as svc:
        assert len(await svc.history.runs(tenant_id)) == 1
        assert await svc.check_lease.holder(tenant_id) is None  # released after the check
    assert len(posts_for(sim, tenants[tenant_id])) == 1


async def test_queue_bindings_name_the_queue_setting_and_its_poison_queue(app_env, monkeypatch):
    from .test_function_app import load_app

    functions = {n: json.loads(f.get_function_json()) for n, f in load_app(monkeypatch).items()}
    (check,) = functions["check_tenant"]["bindings"]
    (poison,) = functions["check_given_up"]["bindings"]
    assert check["type"] == poison["type"] == "queueTrigger"
    assert check["queueName"] == app_env["SMTPAUTH_CHECK_QUEUE"]
    assert poison["queueName"] == app_env["SMTPAUTH_CHECK_QUEUE"] + "-poison"
    assert check["connection"] == "AzureWebJobsStorage"


async def test_the_host_plays_its_part_on_the_bytes(sim, app_env):
    """Guards the harness: a message that is not Base64 is refused before the function."""
    async with raw_queue(app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_CHECK_QUEUE"]) as queue:
        await queue.create_queue()
        await queue.send_message("not base64 at all!")
    async with QueueHost(
        app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_CHECK_QUEUE"], None, name="x", poison=False
    ) as host:
        with pytest.raises(ValueError):
            await host.drain(1)


async def test_a_tenant_whose_messages_never_arrive_is_told_overdue_once(sim, app_env, customer_app):
    tenants = new_tenants(customer_app, 1)
    (tenant_id,) = tenants
    clock = start_clock()
    async with services(clock) as svc:
        await svc.desired.put_tenant(notified_policy(tenant_id, tenants[tenant_id]))
        for _ in range(5):  # ticks; no worker ever takes the messages
            await fan_out(svc)
            clock.advance(minutes=15)
        runs = await svc.history.runs(tenant_id)
    assert [r.status for r in runs] == [Status.ERROR, Status.ERROR]  # ticks 4 and 5: overdue
    assert "overdue: not checked successfully for 45 minutes" in runs[0].error
    assert len(posts_for(sim, tenants[tenant_id])) == 1


async def test_an_overdue_tenant_is_told_once_reminded_and_told_when_checks_work_again(
    sim, app_env, customer_app, monkeypatch
):
    monkeypatch.setenv("SMTPAUTH_REMINDER_HOURS", "1")
    tenants = new_tenants(customer_app, 1)
    (tenant_id,) = tenants
    domain = tenants[tenant_id]
    clock = start_clock()
    async with services(clock) as svc:
        await svc.desired.put_tenant(notified_policy(tenant_id, domain))
        for _ in range(8):  # ticks 1-8, two hours; no worker ever takes the messages
            await fan_out(svc)
            clock.advance(minutes=15)
        told = posts_for(sim, domain)
        assert len([t for t in told if f"Could not check SMTP AUTH in {domain}" in t]) == 1  # tick 4
        assert len([t for t in told if f"Reminder: still cannot check SMTP AUTH in {domain}" in t]) == 1
        assert len(told) == 2  # ticks 5-7 say nothing new

        work = await check_message(svc, CheckMessage(tenant_id, clock()).to_text())
        assert work.outcome is Outcome.CHECKED and work.result.status is Status.COMPLIANT
        clock.advance(minutes=15)
        tick = await fan_out(svc)
    assert tick.overdue == ()
    told = posts_for(sim, domain)
    assert len(told) == 3 and f"Checks of {domain} work again" in told[-1]
