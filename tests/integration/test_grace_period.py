"""The grace period end to end (Azurite, the simulator, one clock the test moves):
the first run holds and says when SMTP AUTH goes, a run before then still holds
(the time comes from the run history, not from that run), the first run after it
fixes and reads back; an exception recorded in between is respected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from azure.data.tables import TableServiceClient

from shared.core.model import ActionStatus, Mode, Status
from shared.core.remediation import waits_for_grace
from shared.notify.text import when
from shared.shell import report
from shared.shell.cycle import run_cycle
from shared.shell.engine import plan_tenant

from .helpers import approved, services
from .notify_helpers import SENDER, TEAMS_SETTING, card_text, notified_policy, start_clock

pytestmark = pytest.mark.usefixtures("app_env")


@pytest.fixture(autouse=True)
def webhook(sim, monkeypatch) -> None:
    monkeypatch.setenv(TEAMS_SETTING, sim.add_teams_webhook())
    monkeypatch.setenv("SMTPAUTH_MAIL_SENDER", SENDER)


def writes(sim, tenant_id):
    return [(r.cmdlet, (r.parameters or {}).get("Identity")) for r in sim.set_calls if r.tenant == tenant_id]


async def test_remediation_waits_out_the_grace_then_fixes_on_the_first_run_after_it(sim, tenant_id):
    domain = "grace.onmicrosoft.com"
    tenant = sim.add_tenant(tenant_id, domain, org_smtp_auth_disabled=False)
    tenant.seed(10, overrides={3: False, 4: False})
    rogue, scanner = tenant.mailbox_at(3), tenant.mailbox_at(4)
    clock = start_clock()
    t0 = clock.advance(days=3)  # far from the wall clock: only the run's clock can decide
    due = t0 + timedelta(hours=24)  # the default GraceHours
    async with services(clock) as svc:
        await svc.desired.put_tenant(notified_policy(tenant_id, domain, mode=Mode.REMEDIATE))
        (first,) = (await run_cycle(svc)).results

        held = {r.action.target: r for r in first.remediation.results}
        assert set(held) == {"organization", rogue.address, scanner.address}
        assert all(waits_for_grace(r) and r.due == due for r in held.values())
        assert writes(sim, tenant_id) == []
        (alert,) = [card_text(post.card) for post in sim.teams_posts]
        for who in (rogue.address, "the organization"):
            assert (
                f"SMTP AUTH will be turned off for {who} at {when(due)} unless an approved exception is "
                "recorded"
            ) in alert
        assert when(due) in sim.sent_mails[0].content

        # The scanner's owner records an exception during the grace.
        await svc.desired.put_exception(tenant_id, approved(scanner))
        clock.advance(hours=23)
        (second,) = (await run_cycle(svc)).results
        (load,) = await svc.desired.load(tenant_id)
        planned = report.plan_document(await plan_tenant(load, svc))

    # Still held, and due when the history first saw the drift plus 24 h, not now plus 24 h.
    assert {r.action.target: (r.status, r.due) for r in second.remediation.results} == {
        "organization": (ActionStatus.HELD, due),
        rogue.address: (ActionStatus.HELD, due),
    }
    assert writes(sim, tenant_id) == [] and len(sim.teams_posts) == 2
    told = card_text(sim.teams_posts[1].card)  # the approval; the holds were told once
    assert "partly resolved" in told and scanner.address in told and "will be turned off" not in told
    actions = planned["results"][0]["remediation"]["actions"]
    assert {(a["target"], a["status"], a["due"]) for a in actions} == {
        ("organization", "held", due.isoformat()),
        (rogue.address, "held", due.isoformat()),
    }

    clock.advance(hours=1, minutes=1)
    async with services(clock) as svc:
        (third,) = (await run_cycle(svc)).results
    assert {r.action.target: r.status for r in third.remediation.results} == {
        "organization": ActionStatus.APPLIED,
        rogue.address: ActionStatus.APPLIED,
    }
    assert all("read back" in r.reason for r in third.remediation.results)
    assert sorted(writes(sim, tenant_id), key=str) == sorted(
        [("Set-TransportConfig", None), ("Set-CASMailbox", rogue.guid)], key=str
    )
    assert tenant.org_smtp_auth_disabled is True and tenant.mailbox_at(3).smtp_auth_disabled is True
    assert tenant.mailbox_at(4).smtp_auth_disabled is False  # approved during the grace: kept
    assert "fixed by remediation" in card_text(sim.teams_posts[-1].card)


async def test_a_first_seen_time_that_cannot_be_read_writes_nothing(sim, tenant_id, app_env):
    """Never "first seen now" for drift the history cannot say about: that would
    restart the grace, or with a hand-edited row, skip it."""
    domain = "unread.onmicrosoft.com"
    tenant = sim.add_tenant(tenant_id, domain)
    tenant.seed(5, overrides={2: False})
    findings = TableServiceClient.from_connection_string(app_env["AzureWebJobsStorage"]).get_table_client(
        app_env["SMTPAUTH_TABLE_PREFIX"] + "Findings"
    )
    async with services() as svc:
        await svc.desired.put_tenant(notified_policy(tenant_id, domain, mode=Mode.REMEDIATE, grace_hours=1))
        findings.create_entity(
            {
                "PartitionKey": tenant_id,
                "RowKey": "by-hand",
                "Kind": "org-setting-drift",
                "Target": "organization",
            }
        )
        (result,) = (await run_cycle(svc)).results
    assert writes(sim, tenant_id) == []
    assert result.status is Status.ERROR and "FirstSeen" in (result.error or "")


async def test_report_mode_drift_is_warned_about_before_a_switch_to_remediate_fixes_it(sim, tenant_id):
    """Drift open for days while the tenant only reported: switching it to remediate
    must not turn SMTP AUTH off on the next run with nobody told. The grace starts when
    remediation begins; it starts anew after the tenant goes back to report mode."""
    domain = "switched.onmicrosoft.com"
    tenant = sim.add_tenant(tenant_id, domain)
    tenant.seed(6, overrides={2: False})
    printer = tenant.mailbox_at(2)
    clock = start_clock()
    async with services(clock) as svc:
        await svc.desired.put_tenant(notified_policy(tenant_id, domain))  # report mode
        (reported,) = (await run_cycle(svc)).results
        assert reported.status is Status.DRIFT and reported.remediation is None

        switched = clock.advance(days=5)
        await svc.desired.put_tenant(notified_policy(tenant_id, domain, mode=Mode.REMEDIATE))
        (first,) = (await run_cycle(svc)).results
        (held,) = first.remediation.results
        assert waits_for_grace(held) and held.due == switched + timedelta(hours=24)
        assert "remediate mode since" in held.reason
        assert writes(sim, tenant_id) == []
        assert f"SMTP AUTH will be turned off for {printer.address} at {when(held.due)}" in card_text(
            sim.teams_posts[-1].card
        )

        clock.advance(hours=23)
        (second,) = (await run_cycle(svc)).results
        assert second.remediation.results[0].due == held.due  # recorded, not "now" again
        assert writes(sim, tenant_id) == []

        # Back to report mode for a run, then remediate again: a new grace, a new warning.
        await svc.desired.put_tenant(notified_policy(tenant_id, domain))
        clock.advance(hours=2)
        await run_cycle(svc)
        again = clock.advance(hours=1)
        await svc.desired.put_tenant(notified_policy(tenant_id, domain, mode=Mode.REMEDIATE))
        (third,) = (await run_cycle(svc)).results
        assert third.remediation.results[0].due == again + timedelta(hours=24)
        assert writes(sim, tenant_id) == []

        clock.advance(hours=24)
        (fourth,) = (await run_cycle(svc)).results
    assert fourth.remediation.results[0].status is ActionStatus.APPLIED
    assert writes(sim, tenant_id) == [("Set-CASMailbox", printer.guid)]
