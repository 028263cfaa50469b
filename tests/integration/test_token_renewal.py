"""A token Exchange stops taking is renewed past the credential's cache and the same
request sent once more, with the real azure-identity credentials over real HTTP."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from azure.identity.aio import ManagedIdentityCredential

from shared.adapters.smtp_auth import SmtpAuthClient
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


async def test_a_refused_batch_is_renewed_and_its_items_carry_the_new_token(sim, tenant_id):
    tenant = sim.add_tenant(tenant_id, "renewbatch.onmicrosoft.com")
    tenant.seed(3)
    async with (
        ManagedIdentityCredential() as credential,
        SmtpAuthClient(sim.url, tenant_id, credential) as client,
    ):
        assert await client.org_smtp_auth_disabled() is True  # the first token, cached
        sim.expire_tokens()  # Exchange stops taking it
        read = await client.read_mailboxes([tenant.mailbox_at(i).guid for i in range(3)])
    assert all(not isinstance(v, str) for v in read.values()), read
    assert [r.status for r in sim.requests if r.path.endswith("/$batch")] == [401, 200]
    # The sim answers an item whose token is not the batch's own 401: each had the new one.
    items = [r for r in sim.requests if r.cmdlet == "Get-CASMailbox"]
    assert len(items) == 3 and all(r.status == 200 for r in items)
