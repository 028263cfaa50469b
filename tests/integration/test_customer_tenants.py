"""Customer tenants reached through the multi-tenant app that trusts the managed
identity, end to end with the real azure-identity classes: the sim plays Entra over
HTTPS (the assertion checked, tokens bound to one tenant), Exchange and Graph refuse a
token of another tenant. Each call carries its own tenant's token, and one tenant's
broken consent or credential leaves the others alone."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from azure.identity.aio import ManagedIdentityCredential

from shared.adapters.credentials import Federation, TenantCredentials
from shared.core.model import Mode, Status, TenantPolicy
from shared.shell.cycle import run_cycle
from shared.shell.engine import check_tenants

from ..conftest import UAMI_CLIENT_ID
from .helpers import monitor, services
from .notify_helpers import SENDER, TEAMS_SETTING, notified_policy

pytestmark = pytest.mark.usefixtures("app_env")


def tenant_calls(sim, tenant: str) -> list:
    """Exchange and Graph requests answered for ``tenant`` (not the token endpoint)."""
    return [r for r in sim.requests if r.tenant == tenant and r.cmdlet != "token" and r.headers]


async def test_two_customer_tenants_checked_at_once_each_call_with_its_own_tenants_token(
    sim, tenant_id, customer_app
):
    home, first, second = tenant_id, str(uuid.uuid4()), str(uuid.uuid4())
    domains = {home: "home.onmicrosoft.com", first: "first.onmicrosoft.com", second: "second.onmicrosoft.com"}
    rogues = {}
    for t, domain in domains.items():
        tenant = sim.add_tenant(t, domain)
        tenant.seed(1500, overrides={11: False})
        rogues[t] = tenant.mailbox_at(11).guid
    customer_app.consent(first, second, directory_role="Exchange Administrator")
    sim.faults.latency(per_request_ms=40)  # the checks overlap
    async with services(tenant_credential_options=customer_app.options) as svc:
        for t, domain in domains.items():
            await monitor(svc, t, domain, mode=Mode.REMEDIATE, grace_hours=0)
        results = await check_tenants(svc, parallel=3)

    # Each fixed its own rogue mailbox and read it back: compliant after the run.
    assert {r.tenant_id: r.status for r in results} == dict.fromkeys(domains, Status.COMPLIANT)
    expected_client = {home: UAMI_CLIENT_ID, first: customer_app.app_id, second: customer_app.app_id}
    for t in domains:
        calls = tenant_calls(sim, t)
        assert {r.cmdlet for r in calls} >= {"Get-TransportConfig", "Get-CASMailbox", "$batch", "signIns"}
        # Every Exchange and Graph call of this tenant carried a token issued in it.
        assert {(r.token_tenant, r.token_client) for r in calls} == {(t, expected_client[t])}
    assert sorted((r.tenant, r.parameters["Identity"]) for r in sim.set_calls) == sorted(rogues.items())
    spans = [[r.at for r in tenant_calls(sim, t)] for t in (first, second)]
    (a0, a1), (b0, b1) = ((min(s), max(s)) for s in spans)
    assert a0 < b1 and b0 < a1  # at the same time
    # One token exchange per customer tenant and resource: cached, never shared.
    exchanges = sorted((r.tenant, r.parameters["scope"]) for r in sim.requests if r.cmdlet == "token")
    assert exchanges == sorted(
        (t, scope)
        for t in (first, second)
        for scope in ("https://outlook.office365.com/.default", "https://graph.microsoft.com/.default")
    )


async def test_a_tenant_without_consent_is_could_not_check_and_the_others_are_checked(
    sim, tenant_id, customer_app
):
    consented, unconsented, no_role = (str(uuid.uuid4()) for _ in range(3))
    for t in (tenant_id, consented, unconsented, no_role):
        sim.add_tenant(t, f"c{t[:8]}.onmicrosoft.com").seed(20)
    customer_app.consent(consented)
    customer_app.consent(no_role, directory_role=None)
    async with services(tenant_credential_options=customer_app.options) as svc:
        for t in (tenant_id, consented, unconsented, no_role):
            await monitor(svc, t, f"c{t[:8]}.onmicrosoft.com")
        results = {r.tenant_id: r for r in await check_tenants(svc, parallel=4)}

    assert results[tenant_id].status is Status.COMPLIANT
    assert results[consented].status is Status.COMPLIANT
    refused = results[unconsented]
    assert refused.status is Status.ERROR
    assert "could not get a token" in refused.error and "AADSTS7000229" in refused.error
    assert not [r for r in sim.requests if r.path.startswith(f"/adminapi/beta/{unconsented}")]
    assert results[no_role].status is Status.ERROR
    assert "Exchange Online refused access" in results[no_role].error and "HTTP 403" in results[no_role].error


async def test_notifications_keep_the_home_identity(sim, tenant_id, customer_app, monkeypatch):
    monkeypatch.setenv(TEAMS_SETTING, sim.add_teams_webhook())
    monkeypatch.setenv("SMTPAUTH_MAIL_SENDER", SENDER)
    customer = str(uuid.uuid4())
    sim.add_tenant(tenant_id, "home.onmicrosoft.com")
    sim.add_tenant(customer, "cust.onmicrosoft.com", org_smtp_auth_disabled=False)
    customer_app.consent(customer)
    async with services(tenant_credential_options=customer_app.options) as svc:
        await svc.desired.put_tenant(notified_policy(customer, "cust.onmicrosoft.com"))
        await run_cycle(svc)
    assert len(sim.sent_mails) == 1
    (send,) = [r for r in sim.requests if r.path.endswith("/sendMail")]
    assert send.status == 202
    # The customer's drift was read with the app's token; the mail went out as the home identity.
    assert {(r.token_tenant, r.token_client) for r in tenant_calls(sim, customer)} == {
        (customer, customer_app.app_id)
    }
    assert not [r for r in sim.requests if r.cmdlet == "token" and r.tenant != customer]


async def test_a_tenant_row_can_name_its_own_app(sim, tenant_id, customer_app):
    other_app = str(uuid.uuid4())
    sim.register_app(other_app, home_tenant=tenant_id, trusts_client_id=UAMI_CLIENT_ID)
    default, own = str(uuid.uuid4()), str(uuid.uuid4())
    for t in (default, own):
        sim.add_tenant(t, f"c{t[:8]}.onmicrosoft.com").seed(5)
    customer_app.consent(default)
    sim.consent(own, other_app)  # this customer consented to the MSP's other app only
    async with services(tenant_credential_options=customer_app.options) as svc:
        await svc.desired.put_tenant(TenantPolicy(default, f"c{default[:8]}.onmicrosoft.com"))
        await svc.desired.put_tenant(TenantPolicy(own, f"c{own[:8]}.onmicrosoft.com", app_id=other_app))
        results = {r.tenant_id: r for r in await check_tenants(svc)}
    assert {t: r.status for t, r in results.items()} == {default: Status.COMPLIANT, own: Status.COMPLIANT}
    assert {r.token_client for r in tenant_calls(sim, own)} == {other_app}
    assert {r.token_client for r in tenant_calls(sim, default)} == {customer_app.app_id}


async def test_a_federated_credential_set_up_wrong_fails_at_the_exchange_and_says_which_field(
    sim, tenant_id, customer_app, monkeypatch
):
    customer = str(uuid.uuid4())
    sim.add_tenant(customer, "cust.onmicrosoft.com")
    customer_app.consent(customer)
    # The app trusts another identity (a subject copied from the wrong resource).
    sim.register_app(customer_app.app_id, home_tenant=tenant_id, trusts_client_id=str(uuid.uuid4()))
    async with services(tenant_credential_options=customer_app.options) as svc:
        await monitor(svc, customer, "cust.onmicrosoft.com")
        (result,) = await check_tenants(svc)
    assert result.status is Status.ERROR and "AADSTS700213" in result.error
    assert sim.identity_principal_id(UAMI_CLIENT_ID) in result.error  # the subject it presented
    assert tenant_calls(sim, customer) == []  # no token, so nothing was sent to its Exchange

    # The right identity, but the deployment asks for the US Government audience.
    sim.register_app(customer_app.app_id, home_tenant=tenant_id, trusts_client_id=UAMI_CLIENT_ID)
    monkeypatch.setenv("SMTPAUTH_TOKEN_EXCHANGE_AUDIENCE", "api://AzureADTokenExchangeUSGov")
    async with services(tenant_credential_options=customer_app.options) as svc:
        (result,) = await check_tenants(svc)
    assert result.status is Status.ERROR and "AADSTS700212" in result.error
    assert "api://AzureADTokenExchangeUSGov" in result.error, result.error  # the field to fix
    assert tenant_calls(sim, customer) == []


async def test_each_tenant_has_its_own_credential_and_home_keeps_the_identity(sim, tenant_id, customer_app):
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    for t in (a, b):
        sim.add_tenant(t, f"c{t[:8]}.onmicrosoft.com")
    customer_app.consent(a, b)
    federation = Federation(tenant_id, customer_app.app_id, UAMI_CLIENT_ID, authority=sim.entra_url)
    scope = "https://outlook.office365.com/.default"
    identity = ManagedIdentityCredential(client_id=UAMI_CLIENT_ID)
    async with TenantCredentials(
        identity, owns_identity=True, federation=federation, **customer_app.options
    ) as credentials:
        first = credentials.for_tenant(a)
        tokens = {t: (await credentials.for_tenant(t).get_token(scope)).token for t in (a, b, a)}
        assert credentials.for_tenant(a) is first and credentials.for_tenant(b) is not first
        assert credentials.for_tenant(tenant_id.upper()) is identity  # home: the identity itself
    assert tokens[a] != tokens[b]
    # One assertion from the identity served both tenants; one exchange per tenant.
    assert [r.tenant for r in sim.requests if r.cmdlet == "token"] in ([a, b], [b, a])
    assert len([r for r in sim.requests if r.path == "/msi/token"]) == 1


async def test_one_tenants_token_is_refused_by_another_tenants_exchange(sim, tenant_id, customer_app):
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    for t in (a, b):
        sim.add_tenant(t, f"c{t[:8]}.onmicrosoft.com")
    customer_app.consent(a, b)
    federation = Federation(tenant_id, customer_app.app_id, UAMI_CLIENT_ID, authority=sim.entra_url)
    identity = ManagedIdentityCredential(client_id=UAMI_CLIENT_ID)
    async with TenantCredentials(
        identity, owns_identity=True, federation=federation, **customer_app.options
    ) as credentials:
        token_a = (await credentials.for_tenant(a).get_token("https://outlook.office365.com/.default")).token
        assert credentials.for_tenant(a) is not credentials.for_tenant(b)
    from ..sim.exo_http import ANCHOR, http

    body = {"CmdletInput": {"CmdletName": "Get-TransportConfig"}}
    headers = {"Authorization": f"Bearer {token_a}", "X-AnchorMailbox": ANCHOR + b}
    reply = await asyncio.to_thread(
        http, "POST", f"{sim.url}/adminapi/beta/{b}/InvokeCommand", body=body, headers=headers
    )
    assert reply.status == 401 and reply.json["error"]["code"] == "Unauthorized"
    assert f"issued in tenant '{a}'" in reply.useful_message
