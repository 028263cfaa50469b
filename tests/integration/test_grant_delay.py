"""A "could not check" caused by a refusal (401/403 from Exchange or the token
endpoint) says that a new grant can take hours to reach the managed identity."""

from __future__ import annotations

import pytest

from shared.core.grant_delay import GRANT_DELAY
from shared.core.model import Status, TenantPolicy
from shared.shell.engine import check_tenants

from .helpers import services

pytestmark = pytest.mark.usefixtures("app_env")


async def check(sim, tenant_id: str, domain: str):
    async with services() as svc:
        await svc.desired.put_tenant(TenantPolicy(tenant_id, domain))
        (result,) = await check_tenants(svc)
    assert result.status is Status.ERROR
    return result.error


async def test_exchange_403_mentions_the_grant_delay(sim, tenant_id):
    domain = "no-role.onmicrosoft.com"
    sim.add_tenant(tenant_id, domain, forbidden="The identity has no Exchange role in this organization.")
    error = await check(sim, tenant_id, domain)
    assert "HTTP 403" in error and "no Exchange role" in error
    assert error.endswith(GRANT_DELAY)


async def test_exchange_401_mentions_the_grant_delay(sim, tenant_id):
    domain = "no-app-role.onmicrosoft.com"
    sim.add_tenant(tenant_id, domain).seed(3)
    # The answer of an identity with neither grant (office-docs-powershell#7970).
    sim.faults.fail(401, "User is not allowed to call Get-TransportConfig", times=3)
    error = await check(sim, tenant_id, domain)
    assert "HTTP 401" in error and "not allowed to call" in error
    assert error.endswith(GRANT_DELAY)


async def test_a_refused_token_request_mentions_it_too(sim, tenant_id, monkeypatch):
    domain = "bad-header.onmicrosoft.com"
    sim.add_tenant(tenant_id, domain).seed(3)
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-secret")  # the endpoint answers 401
    error = await check(sim, tenant_id, domain)
    assert error.startswith("could not get a token") and "X-IDENTITY-HEADER" in error
    assert error.endswith(GRANT_DELAY)


async def test_other_failures_do_not(sim, tenant_id):
    domain = "busy.onmicrosoft.com"
    sim.add_tenant(tenant_id, domain).seed(3)
    sim.faults.fail(400, "The paging token has expired.", times=3)
    error = await check(sim, tenant_id, domain)
    assert "paging token" in error and GRANT_DELAY not in error
