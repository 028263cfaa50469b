"""A whole check: desired state in Azurite, Exchange in the simulator, history
written back to Azurite."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from azure.data.tables import TableServiceClient

from shared.core.model import FindingKind, Status
from shared.shell.engine import check_tenants

from .helpers import approved, monitor, services

pytestmark = pytest.mark.usefixtures("app_env")


def seeded(sim, tenant_id, domain, count=200, org=True, overrides=None):
    tenant = sim.add_tenant(tenant_id, domain, org_smtp_auth_disabled=org)
    tenant.seed(count, overrides=overrides or {})
    return tenant


def kinds(result):
    return sorted((str(f.kind), f.target) for f in result.findings)


async def test_drift_is_found_recorded_and_diffed_between_runs(sim, tenant_id):
    domain = "drift.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, org=False, overrides={5: False, 6: False, 7: True})
    printer, rogue = tenant.mailbox_at(5), tenant.mailbox_at(6)
    expired_app = tenant.add_mailbox(f"erp@{domain}", smtp_auth_disabled=False)
    async with services() as svc:
        await monitor(svc, tenant_id, domain, approved(printer), approved(expired_app, date(2020, 1, 1)))
        (first,) = await check_tenants(svc)

        assert first.status is Status.DRIFT
        assert (first.org_actual, first.org_desired) == (False, True)
        assert first.mailboxes_scanned == 201
        assert kinds(first) == sorted(
            [
                ("org-setting-drift", "organization"),
                ("mailbox-enabled-without-exception", rogue.address),
                ("mailbox-exception-expired", expired_app.address),
            ]
        )
        assert len(first.diff.opened) == 3 and not first.diff.resolved

        (second,) = await check_tenants(svc)
        assert len(second.diff.unchanged) == 3
        assert not (second.diff.opened or second.diff.changed or second.diff.resolved)

        # Someone fixes the rogue mailbox and the org switch.
        tenant.set_override(rogue.guid, None)
        tenant.set_org_setting(True)
        (third,) = await check_tenants(svc)
        assert [f.kind for f in third.diff.resolved] == [
            FindingKind.ORG_SETTING_DRIFT,
            FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION,
        ]
        assert [f.kind for f in third.findings] == [FindingKind.MAILBOX_EXCEPTION_EXPIRED]

        runs = await svc.history.runs(tenant_id)
        assert [r.status for r in runs] == [Status.DRIFT] * 3
        assert [(r.opened, r.resolved) for r in runs] == [(0, 2), (0, 0), (3, 0)]  # newest first
        events = await svc.history.events(tenant_id)
        assert sorted(e.change for e in events) == ["opened"] * 3 + ["resolved"] * 2


async def test_compliant_tenant(sim, tenant_id):
    domain = "clean.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, overrides={1: True})
    scanner = tenant.add_mailbox(f"scanner@{domain}", smtp_auth_disabled=False)
    async with services() as svc:
        await monitor(svc, tenant_id, domain, approved(scanner))
        (result,) = await check_tenants(svc)
    assert result.status is Status.COMPLIANT and result.findings == ()


async def test_malformed_row_means_could_not_check_and_no_exchange_call(sim, tenant_id, app_env):
    domain = "bad.onmicrosoft.com"
    seeded(sim, tenant_id, domain, org=False)
    async with services() as svc:
        await monitor(svc, tenant_id, domain)
        table = TableServiceClient.from_connection_string(app_env["AzureWebJobsStorage"]).get_table_client(
            app_env["SMTPAUTH_TABLE_PREFIX"] + "Desired"
        )
        table.upsert_entity(
            {"PartitionKey": tenant_id, "RowKey": "exception:x", "Mailbox": "a@bad.onmicrosoft.com",
             "Reason": "r", "Approver": "ciso@contoso.com", "Expires": "next tuesday"}
        )  # fmt: skip
        (result,) = await check_tenants(svc)
    assert result.status is Status.ERROR
    assert f"tenant '{tenant_id}', row 'exception:x', field 'Expires'" in result.error
    assert not [r for r in sim.requests if tenant_id in r.path]


async def test_one_broken_tenant_does_not_stop_the_others(sim, tenant_id, customer_app):
    good, denied = tenant_id, str(uuid.uuid4())
    seeded(sim, good, "good.onmicrosoft.com")
    sim.add_tenant(denied, "denied.onmicrosoft.com", forbidden="Access denied by RBAC")
    customer_app.consent(denied)
    async with services(tenant_credential_options=customer_app.options) as svc:
        await monitor(svc, good, "good.onmicrosoft.com")
        await monitor(svc, denied, "denied.onmicrosoft.com")
        results = {r.tenant_id: r for r in await check_tenants(svc)}
    assert results[good].status is Status.COMPLIANT
    assert results[denied].status is Status.ERROR
    assert "Access denied by RBAC" in results[denied].error and "403" in results[denied].error


async def test_a_failed_read_never_resolves_open_findings(sim, tenant_id):
    domain = "flaky.onmicrosoft.com"
    seeded(sim, tenant_id, domain, count=2500, overrides={2400: False})
    async with services() as svc:
        await monitor(svc, tenant_id, domain)
        (first,) = await check_tenants(svc)
        assert len(first.findings) == 1

        # Page 3 (the one holding the enabled mailbox) keeps failing.
        sim.faults.fail(status=400, message="The paging token has expired.", times=100, only_paged=True)
        (failed,) = await check_tenants(svc)
        sim.faults.clear()
        assert failed.status is Status.ERROR and failed.diff is None
        assert len(await svc.history.open_findings(tenant_id)) == 1

        (after,) = await check_tenants(svc)
        assert after.diff.unchanged and not after.diff.resolved


async def test_fresh_deployment_monitors_the_home_tenant(sim, tenant_id, monkeypatch):
    sim.add_tenant(tenant_id, "home.onmicrosoft.com", org_smtp_auth_disabled=False).seed(3)
    monkeypatch.setenv("SMTPAUTH_HOME_TENANT", tenant_id)
    async with services() as svc:
        (result,) = await check_tenants(svc)
    assert result.tenant_id == tenant_id
    assert [f.kind for f in result.findings] == [FindingKind.ORG_SETTING_DRIFT]


async def test_disabled_tenant_is_skipped(sim, tenant_id):
    from shared.core.model import TenantPolicy

    seeded(sim, tenant_id, "off.onmicrosoft.com")
    async with services() as svc:
        await svc.desired.put_tenant(TenantPolicy(tenant_id, "off.onmicrosoft.com", enabled=False))
        assert await check_tenants(svc) == []


@pytest.mark.slow
async def test_tenant_of_10000_mailboxes(sim, tenant_id):
    domain = "big.onmicrosoft.com"
    overrides = {i: False for i in range(0, 10000, 997)} | {i: True for i in range(5, 10000, 1001)}
    tenant = seeded(sim, tenant_id, domain, count=10000, overrides=overrides)
    approved_one = tenant.mailbox_at(997)
    async with services() as svc:
        await monitor(svc, tenant_id, domain, approved(approved_one))
        (result,) = await check_tenants(svc)
    assert result.mailboxes_scanned == 10000
    flagged = {f.mailbox_guid for f in result.findings}
    expected = {tenant.mailbox_at(i).guid.lower() for i in overrides if overrides[i] is False} - {
        approved_one.guid.lower()
    }
    assert {g.lower() for g in flagged} == expected
    assert (
        len([r for r in sim.requests if tenant_id in r.path]) == 12
    )  # 10 pages, the org setting, the org config (no default auth policy)


async def test_result_carries_policy_and_previous_status(sim, tenant_id):
    domain = "prev.onmicrosoft.com"
    tenant = seeded(sim, tenant_id, domain, count=5)
    async with services() as svc:
        await monitor(svc, tenant_id, domain)
        (first,) = await check_tenants(svc)
        tenant.forbidden = "denied"
        (second,) = await check_tenants(svc)
        tenant.forbidden = False
        (third,) = await check_tenants(svc)
    assert first.previous_status is None and first.policy.initial_domain == domain
    assert second.previous_status is Status.COMPLIANT and second.status is Status.ERROR
    assert third.previous_status is Status.ERROR and third.status is Status.COMPLIANT


def _forbid(sim, tenant_id):
    sim.tenant(tenant_id).forbidden = "The identity has no Exchange role in this organization."


def _unauthorized(sim, tenant_id):
    sim.faults.fail(401, "User is not allowed to call Get-TransportConfig", cmdlet="Get-TransportConfig")


@pytest.mark.parametrize(
    ("refuse", "words"),
    [(_forbid, "no Exchange role"), (_unauthorized, "not allowed to call")],
    ids=["403", "401"],
)
async def test_exchange_refusing_the_identity_is_not_called_a_token_failure(sim, tenant_id, refuse, words):
    domain = "refused.onmicrosoft.com"
    seeded(sim, tenant_id, domain)
    refuse(sim, tenant_id)
    async with services() as svc:
        await monitor(svc, tenant_id, domain)
        (result,) = await check_tenants(svc)
    assert result.status is Status.ERROR
    assert result.error.startswith(
        f"Exchange Online refused access: Get-TransportConfig for tenant {tenant_id}"
    )
    assert words in result.error
    assert "could not get a token" not in result.error  # (the grant-delay note may say "cached token")


async def test_no_token_from_the_identity_is_told_as_such(sim, tenant_id):
    domain = "notoken.onmicrosoft.com"
    seeded(sim, tenant_id, domain)
    async with services() as svc:
        await monitor(svc, tenant_id, domain)
        sim.allowed_client_ids = ["6c1d3f0e-9b8a-4c7d-8e6f-5a4b3c2d1e0f"]  # the default identity is refused
        try:
            (result,) = await check_tenants(svc)
        finally:
            sim.allowed_client_ids = None
    assert result.status is Status.ERROR
    assert result.error.startswith("could not get a token for Exchange Online from the identity: ")
    assert "Unable to load the proper Managed Identity" in result.error
    assert not [r for r in sim.requests if r.tenant == tenant_id]  # nothing reached Exchange
