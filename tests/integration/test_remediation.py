"""Remediation against the simulator: each guard rail has a test that fails
without it. Writes are observed where they land: the simulator's Set-* records."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableServiceClient

from shared.core.model import ActionStatus, EvidencePolicy, Mode, Status
from shared.shell import report
from shared.shell.engine import check_tenants
from shared.store.rows import exception_entity
from sim.graph_signins import sign_in

from .helpers import approved, monitor, services

pytestmark = pytest.mark.usefixtures("app_env")
# GraceHours 0: these tests are about the other guard rails (the grace: test_grace_period.py).
REMEDIATE = {"mode": Mode.REMEDIATE, "grace_hours": 0}


def seeded(sim, tenant_id, domain, count=100, org=True, overrides=None):
    tenant = sim.add_tenant(tenant_id, domain, org_smtp_auth_disabled=org)
    tenant.seed(count, overrides=overrides or {})
    return tenant


def sets(sim, tenant_id):
    """Successful Set-* calls that reached the tenant: (cmdlet, identity, value)."""
    return [
        (
            r.cmdlet,
            (r.parameters or {}).get("Identity"),
            (r.parameters or {}).get("SmtpClientAuthenticationDisabled"),
        )
        for r in sim.set_calls
        if r.tenant == tenant_id and r.status == 200
    ]


def statuses(result):
    return {r.action.target: r.status for r in result.remediation.results}


async def test_fixes_drift_but_never_touches_an_approved_exception(sim, tenant_id):
    domain = "fix.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, org=False, overrides={3: False, 4: False})
    rogue, printer = tenant.mailbox_at(3), tenant.mailbox_at(4)
    async with services() as svc:
        await monitor(svc, tenant_id, domain, approved(printer), **REMEDIATE)
        (result,) = await check_tenants(svc)
        audit = await svc.remediator.audit.list(tenant_id)

    assert statuses(result) == {"organization": ActionStatus.APPLIED, rogue.address: ActionStatus.APPLIED}
    assert sorted(sets(sim, tenant_id), key=str) == sorted(
        [("Set-TransportConfig", None, True), ("Set-CASMailbox", rogue.guid, True)], key=str
    )
    assert tenant.mailbox_at(4).smtp_auth_disabled is False  # the printer keeps SMTP AUTH
    assert tenant.mailbox_at(3).smtp_auth_disabled is True
    assert tenant.org_smtp_auth_disabled is True
    # Intent first, outcome after: both in the append-only trail, same run id.
    assert sorted((a.target, a.status, a.before, a.after) for a in audit) == sorted(
        [
            ("organization", "planned", False, True),
            (rogue.address, "planned", False, True),
            ("organization", "applied", False, True),
            (rogue.address, "applied", False, True),
        ]
    )
    assert len({a.run_id for a in audit}) == 1
    assert all("sign-in logs read: last 30 days" in a.evidence_checked for a in audit)

    # Idempotent: the next run finds nothing to fix and writes nothing.
    sim.reset_records()
    async with services() as svc:
        (again,) = await check_tenants(svc)
    assert again.status is Status.COMPLIANT and again.remediation is None
    assert sets(sim, tenant_id) == []


async def test_held_because_a_printer_used_smtp_auth_yesterday(sim, tenant_id):
    domain = "held.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, overrides={7: False, 8: False})
    printer, rogue = tenant.mailbox_at(7), tenant.mailbox_at(8)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    sim.add_sign_in(
        sign_in(
            printer.address, yesterday, ip_address="192.0.2.44", user_id=printer.external_directory_object_id
        )
    )
    # Failed attempts (a password spray) and other client apps are not usage.
    sim.add_sign_in(sign_in(rogue.address, yesterday, error_code=50126))
    sim.add_sign_in(sign_in(rogue.address, yesterday, client_app="Exchange ActiveSync"))
    async with services() as svc:
        await monitor(svc, tenant_id, domain, **REMEDIATE)
        (result,) = await check_tenants(svc)
        (held_row,) = [a for a in await svc.remediator.audit.list(tenant_id) if a.status is ActionStatus.HELD]

    assert statuses(result) == {printer.address: ActionStatus.HELD, rogue.address: ActionStatus.APPLIED}
    held = next(r for r in result.remediation.results if r.status is ActionStatus.HELD)
    assert "192.0.2.44" in held.reason and f"exception add --tenant {tenant_id}" in held.reason
    assert [e.user for e in held.evidence] == [printer.address]
    assert sets(sim, tenant_id) == [("Set-CASMailbox", rogue.guid, True)]
    assert [(s.user, s.ip_address) for s in held_row.evidence] == [(printer.address, "192.0.2.44")]
    signin_request = next(r for r in sim.requests if r.cmdlet == "signIns")
    assert "clientAppUsed eq 'Authenticated SMTP'" in signin_request.query["$filter"]
    assert "status/errorCode eq 0" in signin_request.query["$filter"]


@pytest.mark.parametrize("setting", [EvidencePolicy.HOLD, EvidencePolicy.PROCEED])
async def test_no_entra_p1_follows_the_tenant_setting(sim, tenant_id, setting):
    domain = "nop1.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, overrides={1: False})
    sim.graph_premium = False
    async with services() as svc:
        await monitor(svc, tenant_id, domain, when_evidence_unavailable=setting, **REMEDIATE)
        (result,) = await check_tenants(svc)
    note = result.remediation.note
    assert "Authentication_RequestFromNonPremiumTenantOrB2CTenant" in note
    if setting is EvidencePolicy.HOLD:
        assert statuses(result) == {tenant.mailbox_at(1).address: ActionStatus.HELD} and "held" in note
        assert sets(sim, tenant_id) == []
    else:
        assert (
            statuses(result) == {tenant.mailbox_at(1).address: ActionStatus.APPLIED} and "proceeding" in note
        )


async def test_a_partial_read_never_leads_to_a_write(sim, tenant_id):
    domain = "partial.onmicrosoft.com"
    seeded(sim, tenant_id, domain, count=2500, org=False, overrides={10: False})
    sim.faults.fail(status=400, message="The paging token has expired.", times=5, only_paged=True, after=1)
    async with services() as svc:
        await monitor(svc, tenant_id, domain, **REMEDIATE)
        (result,) = await check_tenants(svc)
    assert result.status is Status.ERROR and result.remediation is None
    assert sets(sim, tenant_id) == []


async def test_limit_per_run_holds_the_rest_and_uses_batches_of_ten(sim, tenant_id):
    domain = "limit.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, count=200, overrides={i: False for i in range(0, 60, 2)})
    async with services() as svc:
        await monitor(svc, tenant_id, domain, max_changes_per_run=25, **REMEDIATE)
        (result,) = await check_tenants(svc)
    counts = {s: list(statuses(result).values()).count(s) for s in ActionStatus}
    assert (counts[ActionStatus.APPLIED], counts[ActionStatus.HELD]) == (25, 5)
    assert len(sets(sim, tenant_id)) == 25
    batches = [r for r in sim.requests if r.tenant == tenant_id and r.path.endswith("/$batch")]
    # 25 writes = 3 batches; re-read before writing and read-back after = 3 batches each.
    assert len(batches) == 9
    assert sum(1 for s in tenant.overrides().values() if s is False) == 5


async def test_two_concurrent_runs_make_one_set_of_writes(sim, tenant_id):
    domain = "race.onmicrosoft.com"
    seeded(sim, tenant_id, domain, count=300, overrides={i: False for i in range(0, 40, 4)})
    sim.faults.slow(0.3, cmdlet="Set-CASMailbox")  # keep the first run inside its lock a while
    async with services() as one, services() as two:
        await monitor(one, tenant_id, domain, **REMEDIATE)
        first, second = await asyncio.gather(check_tenants(one), check_tenants(two))
    writes = sets(sim, tenant_id)
    assert len(writes) == 10 and len({w[1] for w in writes}) == 10  # each mailbox set once
    outcomes = sorted(
        {r.status for r in first[0].remediation.results} | {r.status for r in second[0].remediation.results}
    )
    assert ActionStatus.APPLIED in outcomes
    assert set(outcomes) - {ActionStatus.APPLIED} <= {ActionStatus.HELD, ActionStatus.SKIPPED}


async def test_replication_lag_is_waited_out_and_a_change_that_does_not_stick_fails(sim, tenant_id):
    domain = "verify.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, overrides={1: False, 2: False})
    laggy, stuck = tenant.mailbox_at(1), tenant.mailbox_at(2)
    tenant.make_stuck(stuck.guid)
    tenant.stale_reads_after_set = 1
    async with services() as svc:
        await monitor(svc, tenant_id, domain, **REMEDIATE)
        (result,) = await check_tenants(svc)
    got = {r.action.target: r for r in result.remediation.results}
    assert got[laggy.address].status is ActionStatus.APPLIED and "after 2 reads" in got[laggy.address].reason
    assert got[stuck.address].status is ActionStatus.FAILED and "did not stick" in got[stuck.address].reason


async def test_a_refused_item_in_a_batch_fails_alone(sim, tenant_id):
    domain = "refused.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, overrides={1: False, 2: False, 3: False})
    sim.faults.fail(status=400, message="The mailbox is on litigation hold", cmdlet="Set-CASMailbox", after=1)
    async with services() as svc:
        await monitor(svc, tenant_id, domain, **REMEDIATE)
        (result,) = await check_tenants(svc)
    got = statuses(result)
    assert got[tenant.mailbox_at(2).address] is ActionStatus.FAILED
    assert [got[tenant.mailbox_at(i).address] for i in (1, 3)] == [ActionStatus.APPLIED] * 2
    failed = next(r for r in result.remediation.results if r.status is ActionStatus.FAILED)
    assert "litigation hold" in failed.reason


async def test_org_switch_is_held_while_a_user_following_it_uses_smtp_auth(sim, tenant_id):
    domain = "orgheld.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, org=False)
    app_user = tenant.mailbox_at(5)
    sim.add_sign_in(sign_in(app_user.address, datetime.now(UTC) - timedelta(hours=3), ip_address="192.0.2.9"))
    async with services() as svc:
        await monitor(svc, tenant_id, domain, **REMEDIATE)
        (result,) = await check_tenants(svc)
    (held,) = result.remediation.results
    assert held.status is ActionStatus.HELD and app_user.address in held.reason
    assert sets(sim, tenant_id) == [] and tenant.org_smtp_auth_disabled is False


async def test_report_mode_never_writes(sim, tenant_id):
    domain = "report.onmicrosoft.com"
    seeded(sim, tenant_id, domain, org=False, overrides={1: False})
    async with services() as svc:
        await monitor(svc, tenant_id, domain)
        (result,) = await check_tenants(svc)
    assert result.status is Status.DRIFT and result.remediation is None
    assert sets(sim, tenant_id) == []


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shared", *args], capture_output=True, text=True, env=os.environ.copy(), timeout=120,
        check=False,
    )  # fmt: skip


async def test_plan_shows_what_would_happen_and_changes_nothing(sim, tenant_id):
    domain = "plan.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, org=False, overrides={1: False, 2: False})
    sim.add_sign_in(sign_in(tenant.mailbox_at(2).address, datetime.now(UTC) - timedelta(days=2)))
    async with services() as svc:
        # Report mode: plan works whatever the mode. GraceHours 0: planned at once.
        await monitor(svc, tenant_id, domain, grace_hours=0)
    text = cli("plan", "--tenant", tenant_id)
    assert text.returncode == 1, text.stderr  # as check: drift, changes planned
    assert "nothing has been changed" in text.stdout and "HELD" in text.stdout
    planned = cli("plan", "--tenant", domain, "--json")  # the initial domain names it too
    doc = json.loads(planned.stdout)
    assert planned.returncode == doc["exit_code"] == 1
    # check's envelope; the actions are said once, in the result's remediation.
    assert set(doc) == {"version", "exit_code", "results"} and doc["version"] == 1
    (result,) = doc["results"]
    assert "plan" not in result and result["changes"] is None
    # User 2 has its own override, so the org switch would not cut it off; its mailbox action would.
    assert {(a["target"], a["status"]) for a in result["remediation"]["actions"]} == {
        ("organization", "planned"),
        (tenant.mailbox_at(1).address, "planned"),
        (tenant.mailbox_at(2).address, "held"),
    }
    assert sets(sim, tenant_id) == []
    # Nothing written anywhere: no audit row, no run.
    assert json.loads(cli("audit", "--tenant", tenant_id, "--json").stdout) == []
    assert "no runs recorded" in cli("history", "--tenant", tenant_id).stdout


def _between_check_and_write(sim, change):
    """Make `change` happen when the run reads sign-in evidence: after it observed
    the tenant, before it writes (the hook runs on the simulator's thread)."""
    sim.before_sign_ins = change


async def test_a_target_changed_since_the_check_is_not_written(sim, tenant_id):
    domain = "moved.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, overrides={1: False, 2: False})
    fixed_by_admin, untouched = tenant.mailbox_at(1), tenant.mailbox_at(2)

    _between_check_and_write(sim, lambda: tenant.set_override(fixed_by_admin.guid, None))
    async with services() as svc:
        await monitor(svc, tenant_id, domain, **REMEDIATE)
        (result,) = await check_tenants(svc)
    got = {r.action.target: r for r in result.remediation.results}
    assert got[fixed_by_admin.address].status is ActionStatus.SKIPPED
    assert "changed since the check" in got[fixed_by_admin.address].reason
    assert got[untouched.address].status is ActionStatus.APPLIED
    assert sets(sim, tenant_id) == [("Set-CASMailbox", untouched.guid, True)]


async def test_an_exception_approved_since_the_check_is_respected(sim, tenant_id, app_env):
    domain = "approved-late.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, overrides={1: False})
    printer = tenant.mailbox_at(1)
    table = TableServiceClient.from_connection_string(app_env["AzureWebJobsStorage"]).get_table_client(
        app_env["SMTPAUTH_TABLE_PREFIX"] + "Desired"
    )
    _between_check_and_write(sim, lambda: table.create_entity(exception_entity(tenant_id, approved(printer))))
    async with services() as svc:
        await monitor(svc, tenant_id, domain, **REMEDIATE)
        (result,) = await check_tenants(svc)
    (outcome,) = result.remediation.results
    assert outcome.status is ActionStatus.SKIPPED and "approved since the check" in outcome.reason
    assert sets(sim, tenant_id) == [] and tenant.mailbox_at(1).smtp_auth_disabled is False


async def test_remediation_that_cannot_take_its_lock_stops_and_says_why(sim, tenant_id, app_env):
    domain = "no-lock.onmicrosoft.com"
    seeded(sim, tenant_id, domain, overrides={1: False})
    service = TableServiceClient.from_connection_string(app_env["AzureWebJobsStorage"])
    async with services() as svc:
        await monitor(svc, tenant_id, domain, **REMEDIATE)
        service.delete_table(app_env["SMTPAUTH_TABLE_PREFIX"] + "Locks")  # storage lost under the run
        (result,) = await check_tenants(svc)
    outcome = result.remediation
    assert result.status is Status.DRIFT and outcome.results == () and outcome.note == ""
    assert outcome.stopped and "Not Found" in outcome.stopped
    assert sets(sim, tenant_id) == []
    assert report.remediation_json(outcome)["note"] == f"remediation stopped: {outcome.stopped}"
    assert report.remediation_json(outcome)["stopped"] == outcome.stopped
    assert f"Note: remediation stopped: {outcome.stopped}" in report.text([result])


async def test_evidence_window_is_the_tenant_setting(sim, tenant_id):
    domain = "window.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, overrides={1: False, 2: False})
    recent, old = tenant.mailbox_at(1), tenant.mailbox_at(2)
    now = datetime.now(UTC)
    sim.add_sign_in(sign_in(recent.address, now - timedelta(days=6)))
    sim.add_sign_in(sign_in(old.address, now - timedelta(days=8)))
    async with services() as svc:
        await monitor(svc, tenant_id, domain, evidence_days=7, **REMEDIATE)
        (result,) = await check_tenants(svc)
    assert statuses(result) == {recent.address: ActionStatus.HELD, old.address: ActionStatus.APPLIED}


async def test_an_item_throttled_inside_a_batch_is_sent_again(sim, tenant_id):
    domain = "item429.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, overrides={1: False, 2: False})
    sim.faults.throttle(times=1, retry_after=0, cmdlet="Set-CASMailbox")
    async with services() as svc:
        await monitor(svc, tenant_id, domain, **REMEDIATE)
        (result,) = await check_tenants(svc)
    assert set(statuses(result).values()) == {ActionStatus.APPLIED}
    attempts = [r for r in sim.set_calls if r.tenant == tenant_id]
    assert sorted(r.status for r in attempts) == [200, 200, 429]
    assert {tenant.mailbox_at(i).smtp_auth_disabled for i in (1, 2)} == {True}


async def test_a_lost_batch_answer_is_settled_by_reading_back(sim, tenant_id):
    domain = "lostbatch.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, count=100, overrides={i: False for i in range(15)})
    # Batches: 2 re-reads, then 2 writes; the second write batch fails as a whole.
    sim.faults.fail(status=400, message="Batch request failed", service="exchange-batch", after=3)
    async with services() as svc:
        await monitor(svc, tenant_id, domain, **REMEDIATE)
        (result,) = await check_tenants(svc)
    by_status: dict[ActionStatus, list] = {}
    for r in result.remediation.results:
        by_status.setdefault(r.status, []).append(r)
    assert len(by_status[ActionStatus.APPLIED]) == 10  # the first batch's writes are not lost
    assert len(by_status[ActionStatus.FAILED]) == 5
    assert all("answer was lost" in r.reason for r in by_status[ActionStatus.FAILED])
    assert sum(1 for i in range(15) if tenant.mailbox_at(i).smtp_auth_disabled is True) == 10


async def test_evidence_is_read_with_the_tenants_credential_whatever_the_home_tenant(
    sim, tenant_id, monkeypatch
):
    # No home-tenant rule in the evidence reader: a tenant's sign-in logs are read with
    # that tenant's credential (TenantCredentials.for_tenant), like its Exchange reads.
    domain = "elsewhere.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, overrides={1: False})
    monkeypatch.setenv("SMTPAUTH_HOME_TENANT", "5b1f3a2e-7c4d-4e8f-9a6b-0c1d2e3f4a5b")
    async with services() as svc:
        await monitor(svc, tenant_id, domain, **REMEDIATE)
        (result,) = await check_tenants(svc)
    assert statuses(result) == {tenant.mailbox_at(1).address: ActionStatus.APPLIED}
    assert len([r for r in sim.requests if r.cmdlet == "signIns"]) == 1


async def test_a_run_that_finds_the_lock_held_writes_nothing_and_says_why(sim, tenant_id):
    """Two remediating runs of one tenant (the timer's and a CLI check): the one that
    does not get the lock holds every change, with the reason, and writes nothing."""
    domain = "locked.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, overrides={3: False, 4: False})
    async with services() as svc:
        await monitor(svc, tenant_id, domain, **REMEDIATE)
        assert await svc.remediator.lock.acquire(tenant_id, "the-other-run", datetime.now(UTC))
        (result,) = await check_tenants(svc)
    assert sets(sim, tenant_id) == []
    reasons = {r.action.target: (r.status, r.reason) for r in result.remediation.results}
    held = (ActionStatus.HELD, "another run is remediating this tenant (lock held)")
    assert reasons == {tenant.mailbox_at(3).address: held, tenant.mailbox_at(4).address: held}
    assert result.status is Status.DRIFT
