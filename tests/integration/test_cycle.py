"""The one cycle (shared.shell.cycle.run_cycle) on the one runtime (open_runtime), as
the timer runs them: the order of check, queue and deliver, and the one clock."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from azure.data.tables import TableServiceClient

from shared.core.model import ActionStatus, Mode
from shared.shell.cycle import run_cycle

from .helpers import services
from .notify_helpers import SENDER, TEAMS_SETTING, card_text, notified_policy, start_clock

pytestmark = pytest.mark.usefixtures("app_env")


@pytest.fixture(autouse=True)
def webhook(sim, monkeypatch) -> None:
    monkeypatch.setenv(TEAMS_SETTING, sim.add_teams_webhook())
    monkeypatch.setenv("SMTPAUTH_MAIL_SENDER", SENDER)


async def test_a_tenant_is_queued_as_soon_as_its_run_is_recorded(sim, monkeypatch, customer_app):
    """The host can stop a run at any moment (its function timeout). A tenant checked
    before that has its message in the outbox, and the next run sends it. Queuing
    after all tenants would lose it: its run is recorded, so the next run sees no change."""
    monkeypatch.setenv("SMTPAUTH_MAX_PARALLEL_TENANTS", "1")  # one at a time, in tenant-id order
    base = str(uuid.uuid4())
    tenants = {"0" + base[1:]: "early.onmicrosoft.com", "f" + base[1:]: "late.onmicrosoft.com"}
    early, late = tenants
    for tenant_id, domain in tenants.items():
        sim.add_tenant(tenant_id, domain, org_smtp_auth_disabled=False).seed(5)
    customer_app.consent(*tenants)  # two customer tenants, reached through the app
    options = customer_app.options
    async with services(tenant_credential_options=options) as svc:
        for tenant_id, domain in tenants.items():
            await svc.desired.put_tenant(notified_policy(tenant_id, domain))

    sim.faults.slow(60, cmdlet="Get-TransportConfig", after=1)  # the late tenant's first read hangs
    async with services(tenant_credential_options=options) as svc:
        run = asyncio.create_task(run_cycle(svc))
        for _ in range(300):
            if await svc.notifier.outbox.rows(early):
                break
            await asyncio.sleep(0.05)
        assert not run.done(), "the late tenant is still being checked"
        assert len(await svc.notifier.outbox.rows(early)) == 2  # one copy per channel
        run.cancel()  # what the host does when the function times out
        with pytest.raises(asyncio.CancelledError):
            await run
        assert await svc.history.runs(late) == []
    assert sim.teams_posts == [] and sim.sent_mails == []  # stopped before delivering

    sim.faults.clear()
    async with services(tenant_credential_options=options) as svc:
        cycle = await run_cycle(svc)
    results = {r.tenant_id: r for r in cycle.results}
    assert results[early].diff.unchanged and not results[early].diff.opened  # nothing new for it
    assert results[late].diff.opened and cycle.queued == 1  # only the late tenant's is new
    texts = [card_text(post.card) for post in sim.teams_posts]
    assert len(texts) == len(sim.sent_mails) == 2 and len(cycle.delivery.sent) == 4
    for domain in tenants.values():
        assert [t for t in texts if f"SMTP AUTH drift found in {domain}" in t]


async def test_the_engine_the_remediator_and_the_notifier_read_one_clock(sim, tenant_id, app_env):
    """One clock, given to open_runtime: moving it moves what the run history (engine),
    the audit trail (remediator) and the outbox (notifier) record."""
    domain = "clock.onmicrosoft.com"
    tenant = sim.add_tenant(tenant_id, domain)
    tenant.seed(10, overrides={3: False})
    clock = start_clock()
    clock.advance(days=3)  # far from the wall clock, so nothing can pass by reading that
    async with services(clock) as svc:
        await svc.desired.put_tenant(notified_policy(tenant_id, domain, mode=Mode.REMEDIATE, grace_hours=0))
        first = await run_cycle(svc)
        t0 = clock.now
        tenant.set_override(tenant.mailbox_at(6).guid, False)  # drift again, later
        t1 = clock.advance(hours=5)
        second = await run_cycle(svc)
        runs = await svc.history.runs(tenant_id)
        audit = await svc.remediator.audit.list(tenant_id)
    for cycle in (first, second):
        (result,) = cycle.results
        assert [r.status for r in result.remediation.results] == [ActionStatus.APPLIED]
        assert len(cycle.delivery.sent) == 2
    assert [first.results[0].checked_at, second.results[0].checked_at] == [t0, t1]
    assert [r.checked_at for r in runs] == [t1, t0]  # newest first
    assert sorted({r.at for r in audit}) == [t0, t1]
    outbox = TableServiceClient.from_connection_string(app_env["AzureWebJobsStorage"]).get_table_client(
        app_env["SMTPAUTH_TABLE_PREFIX"] + "Outbox"
    )
    copies = list(
        outbox.query_entities("PartitionKey eq @pk and Channel ne ''", parameters={"pk": tenant_id})
    )
    assert len(copies) == 4
    assert sorted({c["SentAt"] for c in copies}) == [t0, t1]
    assert sorted({c["LastAttemptAt"] for c in copies}) == [t0, t1]
