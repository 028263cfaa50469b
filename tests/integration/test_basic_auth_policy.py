"""The other switch, read by every check against the simulator: the organization's
default authentication policy and its AllowBasicAuthSmtp, at most two requests, and
a failure of that read stated as unknown, never a failed check."""

from __future__ import annotations

import pytest

from shared.core.model import Status
from shared.shell.engine import check_tenants
from shared.shell.report import result_json, text

from .helpers import monitor, services

pytestmark = pytest.mark.usefixtures("app_env")


def cmdlets(sim, tenant_id):
    return [r.cmdlet for r in sim.requests if r.tenant == tenant_id and r.cmdlet]


async def check(sim, tenant_id, domain):
    async with services() as svc:
        await monitor(svc, tenant_id, domain)
        (result,) = await check_tenants(svc)
        success = await svc.history.last_successful_run(tenant_id)
    return result, success


async def test_no_default_policy_leaves_basic_smtp_auth_possible_org_wide(sim, tenant_id):
    domain = "nopolicy.onmicrosoft.com"
    sim.add_tenant(tenant_id, domain, org_smtp_auth_disabled=False).seed(5)
    result, success = await check(sim, tenant_id, domain)

    doc = result_json(result)["basic_auth_smtp"]
    assert doc["state"] == "allowed" and doc["default_policy"] is None
    assert doc["possible_org_wide"] is True and doc["basic_auth_off_by_default"] == "2026-12-31"
    assert "Basic SMTP AUTH: allowed: no default authentication policy" in text([result])
    # One extra request: there is no policy to look up.
    assert cmdlets(sim, tenant_id).count("Get-OrganizationConfig") == 1
    assert "Get-AuthenticationPolicy" not in cmdlets(sim, tenant_id)
    assert success.basic_auth == result.basic_auth  # kept for the digest


async def test_a_default_policy_that_blocks_basic_smtp(sim, tenant_id):
    domain = "blocked.onmicrosoft.com"
    tenant = sim.add_tenant(tenant_id, domain, org_smtp_auth_disabled=False)
    tenant.seed(5)
    tenant.auth_policies.add("Block Basic Auth", allow=("Imap",), default=True)
    result, success = await check(sim, tenant_id, domain)

    doc = result_json(result)["basic_auth_smtp"]
    assert (doc["state"], doc["default_policy"], doc["allow_basic_auth_smtp"]) == (
        "blocked",
        "Block Basic Auth",
        False,
    )
    assert doc["possible_org_wide"] is False
    calls = cmdlets(sim, tenant_id)
    assert (calls.count("Get-OrganizationConfig"), calls.count("Get-AuthenticationPolicy")) == (1, 1)
    assert success.basic_auth.state == "blocked"


async def test_an_unreadable_policy_is_unknown_and_the_check_still_counts(sim, tenant_id):
    domain = "unreadable.onmicrosoft.com"
    tenant = sim.add_tenant(tenant_id, domain, org_smtp_auth_disabled=True)
    tenant.seed(5)
    tenant.auth_policies.add("Printers", allow=("Smtp",), default=True)
    sim.faults.fail(400, "Access denied for Get-AuthenticationPolicy", cmdlet="Get-AuthenticationPolicy")
    result, _ = await check(sim, tenant_id, domain)

    assert result.status is Status.COMPLIANT and result.error is None
    doc = result_json(result)["basic_auth_smtp"]
    assert doc["state"] == "unknown" and doc["possible_org_wide"] is False  # the org switch is off
    assert "Access denied for Get-AuthenticationPolicy" in doc["problem"]
    assert "Basic SMTP AUTH: unknown: the authentication policy could not be read" in text([result])
