"""A token Exchange stops taking is renewed past the credential's cache and the same
request sent once more, with the real azure-identity credentials over real HTTP."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from shared.core.model import Status
from shared.shell.engine import check_tenants

from .helpers import monitor, services

pytestmark = pytest.mark.usefixtures("app_env")


async def test_a_customer_tenants_refused_token_is_renewed_with_a_claims_request(
    sim, tenant_id, customer_app
):
    customer = str(uuid.uuid4())
    sim.add_tenant(customer, "renew.onmicrosoft.com").seed(1500)
    customer_app.consent(customer)
    sim.faults.refuse_token(times=1, only_paged=True, tenant=customer)  # page 2, once
    before = time.time()
    async with services(tenant_credential_options=customer_app.options) as svc:
        await monitor(svc, customer, "renew.onmicrosoft.com")
        (result,) = await check_tenants(svc)
    assert result.status is Status.COMPLIANT and result.mailboxes_scanned == 1500, result.error
    exchanges = [
        r.parameters
        for r in sim.requests
        if r.cmdlet == "token" and r.tenant == customer and "outlook" in r.parameters["scope"]
    ]
    # The first token, then one past ClientAssertionCredential's cache: a CAE-style
    # claims request for a token issued not before the refusal.
    assert len(exchanges) == 2 and "claims" not in exchanges[0]
    nbf = json.loads(exchanges[1]["claims"])["access_token"]["nbf"]
    assert nbf["essential"] is True and int(nbf["value"]) >= int(before)
    paged = [r.status for r in sim.requests if r.tenant == customer and "$skiptoken" in r.query]
    assert paged == [401, 200]
