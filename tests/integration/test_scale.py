"""Scale: 200 tenants through real Azurite queues, several workers at once, a few of the
tenants faulty (Exchange says 403, throttled past every retry, a malformed desired-state
row, one whose worker dies on every attempt). Two cycles: the first tells each problem
once; the second, a day later, reminds each open problem once and checks each tenant
once again. (That the next tick tells nothing new is test_fanout.py's subject.)

Each cycle: the timer's fan-out (shared/shell/tick.py), a few messages delivered twice
(the queue is at-least-once), then the check queue drained by WORKERS instances and
the poison queue by one, as tests/integration/queue_host.py plays the host. Each
instance has its own runtime (its own clients, tokens and connections), all on one
clock the test moves; the workers run the queue function's own code
(shared.shell.worker, what function_app's triggers call).
"""

from __future__ import annotations

import base64
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

import pytest
from azure.functions.queue import QueueMessage

from shared.core.delivery import State
from shared.core.fanout import CheckMessage
from shared.core.model import Status
from shared.shell.runtime import Runtime
from shared.shell.tick import fan_out
from shared.shell.worker import check_message, record_poisoned

from .helpers import services
from .notify_helpers import SENDER, TEAMS_SETTING, Clock, card_text, notified_policy, start_clock
from .queue_host import HOST, Function, HostLog, QueueHost, raw_queue
from .test_fanout import malform

pytestmark = [pytest.mark.usefixtures("app_env"), pytest.mark.slow]

# Every runtime reaches the customer tenants through the multi-tenant app (conftest).
OPTIONS: dict[str, object] = {}

TENANTS = 200
DRIFTING = 10  # healthy, but the org switch is on: told once, then reminded
WORKERS = 6
TWICE = 12  # messages per cycle the queue delivers a second time
MAILBOXES = 3  # per tenant: the test is about the tenants, not their size


@pytest.fixture(autouse=True)
def webhook(sim, monkeypatch) -> None:
    monkeypatch.setenv(TEAMS_SETTING, sim.add_teams_webhook())
    monkeypatch.setenv("SMTPAUTH_MAIL_SENDER", SENDER)


def queue_function(runtime: Runtime) -> Function:
    """function_app.check_tenant's body, on this instance's runtime."""

    async def check(msg: QueueMessage) -> None:
        await check_message(runtime, msg.get_body().decode(), dequeue_count=msg.dequeue_count or 1)

    return check


def poison_function(runtime: Runtime) -> Function:
    """function_app.check_given_up's body."""

    async def given_up(msg: QueueMessage) -> None:
        await record_poisoned(runtime, msg.get_body().decode())

    return given_up


@asynccontextmanager
async def instances(clock: Clock, count: int) -> AsyncIterator[list[Runtime]]:
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(runtime(clock)) for _ in range(count)]


def runtime(clock: Clock) -> AbstractAsyncContextManager[Runtime]:
    return services(clock, tenant_credential_options=OPTIONS)


async def deliver_again(connection: str, queue: str, messages: list[CheckMessage]) -> None:
    """The same message a second time, as an at-least-once queue may hand it out."""
    async with raw_queue(connection, queue) as q:
        for m in messages:
            await q.send_message(base64.b64encode(m.to_text().encode()).decode())


async def run_cycle_through_queues(
    app_env: dict[str, str], clock: Clock, dies: str, twice: list[str]
) -> HostLog:
    connection, queue = app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_CHECK_QUEUE"]
    async with runtime(clock) as timer:
        planned = await fan_out(timer)
    await deliver_again(connection, queue, [CheckMessage(t, clock.now) for t in twice])
    log = HostLog()
    async with instances(clock, WORKERS) as runtimes:
        # Killed while its check waits on Exchange (slowed for it), on every attempt.
        async with QueueHost(
            connection, queue, None, name="check_tenant", log=log, timeout_s=30,
            dies_on=lambda text: dies in text, dies_after_s=0.3,
        ) as host:  # fmt: skip
            await host.drain_with([queue_function(r) for r in runtimes])
        async with QueueHost(
            connection, queue + "-poison", None, name="check_given_up", poison=False, log=log
        ) as host:
            await host.drain_with([poison_function(runtimes[0])])
    assert len(planned.enqueued) == TENANTS
    return log


def exchange_requests(sim) -> dict[str, Counter[str]]:
    """Per tenant: how many times each cmdlet was sent."""
    out: dict[str, Counter[str]] = {}
    for r in sim.requests:
        if "/adminapi/" in r.path and r.tenant:
            out.setdefault(r.tenant, Counter())[r.cmdlet or "?"] += 1
    return out


def told(sim, domains: dict[str, str]) -> Counter[str]:
    """Teams posts and mails per tenant; also asserts no two are the same message."""
    cards = [card_text(p.card) for p in sim.teams_posts]
    mails = [m.subject + "\n" + m.content for m in sim.sent_mails]
    assert len(set(cards)) == len(cards) and len(set(mails)) == len(mails), "a notification came twice"
    out: Counter[str] = Counter()
    for tenant, domain in domains.items():
        out[tenant] = sum(domain in c for c in cards) + sum(domain in m for m in mails)
    return out


async def queues_empty(app_env: dict[str, str]) -> bool:
    connection, queue = app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_CHECK_QUEUE"]
    for name in (queue, queue + "-poison"):
        async with raw_queue(connection, name) as q:
            if await q.peek_messages(1):
                return False
    return True


async def test_200_tenants_each_checked_once_per_cycle_faults_told_once_nothing_lost(
    sim, app_env, customer_app, monkeypatch
):
    clock = start_clock()
    domains: dict[str, str] = {}
    for n in range(TENANTS):
        tenant = str(uuid.uuid4())
        domains[tenant] = f"scale{n:03d}-{tenant[:6]}.onmicrosoft.com"
        sim.add_tenant(tenant, domains[tenant], org_smtp_auth_disabled=n >= DRIFTING).seed(MAILBOXES)
    ids = list(domains)
    drifting = ids[:DRIFTING]
    forbidden, throttled, malformed, dies = ids[-4:]
    faulty = (forbidden, throttled, malformed, dies)
    healthy = [t for t in ids if t not in faulty]
    monkeypatch.setattr(f"{__name__}.OPTIONS", customer_app.options)
    customer_app.consent(*(t for t in ids if t != forbidden))
    customer_app.consent(forbidden, directory_role=None)  # consented, no Exchange role: 403
    sim.faults.throttle(times=None, retry_after=0.05, tenant=throttled)  # past every retry
    sim.faults.slow(60, tenant=dies)  # its worker dies while waiting on this
    async with runtime(clock) as svc:
        for tenant, domain in domains.items():
            await svc.desired.put_tenant(notified_policy(tenant, domain))
        await malform(svc, malformed)
    rng = random.Random(11)

    expected_told = Counter({t: 2 for t in (*drifting, *faulty)})  # a card and a mail each
    for cycle in (1, 2):
        if cycle == 2:
            clock.advance(hours=25)  # past SMTPAUTH_REMINDER_HOURS (24)
        sim.reset_records()
        twice = rng.sample([t for t in ids if t != dies], TWICE)
        log = await run_cycle_through_queues(app_env, clock, dies, twice)

        # The host: every message ran, only the dying tenant's failed, and it was poisoned.
        assert log.calls["check_tenant"] == TENANTS + TWICE + HOST["maxDequeueCount"] - 1, cycle
        assert {CheckMessage.from_text(b).tenant for b, _ in log.failures} == {dies}
        assert [CheckMessage.from_text(b).tenant for b in log.poisoned] == [dies]
        assert log.calls["check_given_up"] == 1

        # Exchange saw each healthy tenant checked exactly once: the same reads for every
        # one of them (org setting, one page, ...), none sent twice.
        requests = exchange_requests(sim)
        reads = set(requests[healthy[-1]])
        assert {"Get-TransportConfig", "Get-CASMailbox"} <= reads
        once = Counter(dict.fromkeys(reads, 1))
        assert {t: requests.get(t) for t in healthy if requests.get(t) != once} == {}, cycle
        assert malformed not in requests  # refused before Exchange
        async with runtime(clock) as svc:
            runs = {t: await svc.history.runs(t) for t in ids}
            health = await svc.health.tenants()
            # One query for the whole outbox: every copy ever queued, by state.
            copies = svc.notifier.outbox._table.query_entities("Channel ne ''")
            states = Counter([entity["State"] async for entity in copies])
        # One recorded run per tenant per cycle, whatever happened to its messages.
        assert {t: len(r) for t, r in runs.items() if len(r) != cycle} == {}, cycle
        for tenant in healthy:
            expected = Status.DRIFT if tenant in drifting else Status.COMPLIANT
            assert runs[tenant][0].status is expected and health[tenant].last_success is not None
        for tenant in faulty:
            assert runs[tenant][0].status is Status.ERROR, tenant
            assert health[tenant].last_success is None
        assert "Exchange Online refused access" in runs[forbidden][0].error
        assert "Expires" in runs[malformed][0].error
        assert "did not finish" in runs[dies][0].error
        assert health[dies].last_poisoned == clock.now

        # Told: the first cycle opens each problem once, the second reminds it once
        # (the drifting tenants and the faulty ones); nobody else hears anything.
        assert +told(sim, domains) == expected_told, cycle
        # Nothing lost: both queues empty, every notification copy sent.
        assert await queues_empty(app_env)
        assert (
            set(states) == {str(State.SENT)}
            and states[str(State.SENT)] == sum(expected_told.values()) * cycle
        )
