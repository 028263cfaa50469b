"""Clients bound to a tenant, against the simulator: each tenant's requests carry its
own URL and anchor, with its own credential (the managed identity at home, the
multi-tenant app's token from that tenant elsewhere), and the clients are kept per
tenant (bounded, never closed while in use)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Self

import pytest
from azure.core.credentials import AccessToken
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ClientAuthenticationError
from azure.identity.aio import ManagedIdentityCredential

from shared.adapters.credentials import Federation, TenantCredentials
from shared.adapters.exchange_errors import ExchangeTokenError
from shared.adapters.exchange_transport import ANCHOR_MAILBOX
from shared.adapters.tenant_clients import TenantClients
from shared.core.model import ActionStatus, Mode, Status, TenantPolicy
from shared.shell.engine import check_tenants, observe

from ..conftest import UAMI_CLIENT_ID
from .helpers import monitor, services

pytestmark = pytest.mark.usefixtures("app_env")


def exchange_http(sim) -> list[Any]:
    # Sub-requests of a $batch are recorded too, without headers: keep real HTTP requests.
    return [r for r in sim.requests if r.path.startswith("/adminapi/beta/") and r.headers]


def path_tenant(record) -> str:
    return record.path.split("/")[3]


async def test_two_tenants_checked_at_once_each_with_its_own_client(sim, tenant_id, customer_app):
    customer = str(uuid.uuid4())
    tenants = {tenant_id: "first.onmicrosoft.com", customer: "second.onmicrosoft.com"}
    rogues = {}
    for t, domain in tenants.items():
        seeded = sim.add_tenant(t, domain)
        seeded.seed(2500, overrides={7: False})
        rogues[t] = seeded.mailbox_at(7)
    customer_app.consent(customer, directory_role="Exchange Administrator")
    sim.faults.latency(per_request_ms=40)  # long enough for the two checks to overlap
    async with services(tenant_credential_options=customer_app.options) as svc:
        for t, domain in tenants.items():
            await monitor(svc, t, domain, mode=Mode.REMEDIATE, grace_hours=0)
        results = await check_tenants(svc, parallel=2)
        a, b = (svc.clients.get(t) for t in tenants)
        assert svc.clients.get(tenant_id) is a and len(svc.clients) == 2

    assert a.exchange is not b.exchange and a.evidence is not b.evidence
    # Each run fixed its own rogue mailbox and read it back: nothing is left open.
    assert {r.tenant_id: r.status for r in results} == dict.fromkeys(tenants, Status.COMPLIANT)
    for result in results:
        assert [r.status for r in result.remediation.results] == [ActionStatus.APPLIED]

    requests = exchange_http(sim)
    for r in requests:
        # Each request went to its own tenant's URL, routed by that tenant's anchor,
        # with a token issued in that tenant: the identity's at home, the app's elsewhere.
        assert r.tenant == path_tenant(r) == r.token_tenant
        assert r.headers["x-anchormailbox"] == ANCHOR_MAILBOX.format(tenant=path_tenant(r))
        assert r.token_client == (UAMI_CLIENT_ID if r.tenant == tenant_id else customer_app.app_id)
    sign_ins = [r for r in sim.requests if r.cmdlet == "signIns"]
    assert sorted((r.token_tenant, r.token_client) for r in sign_ins) == sorted(
        [(tenant_id, UAMI_CLIENT_ID), (customer, customer_app.app_id)]
    )
    # The app's token was asked for in the customer tenant only, once per resource.
    exchanges = sorted(r.parameters["scope"] for r in sim.requests if r.cmdlet == "token")
    assert {r.tenant for r in sim.requests if r.cmdlet == "token"} == {customer}
    assert exchanges == ["https://graph.microsoft.com/.default", "https://outlook.office365.com/.default"]
    assert {(path_tenant(r), r.path.rsplit("/", 1)[1]) for r in requests} == {
        (t, endpoint) for t in tenants for endpoint in ("InvokeCommand", "$batch")
    }
    batched = [r for r in sim.requests if r.path.startswith("/adminapi/beta/") and not r.headers]
    assert batched and all(path_tenant(r) == r.tenant for r in batched)
    # The writes landed where they belong: each tenant's own rogue mailbox, nothing else.
    assert sorted((r.tenant, r.parameters["Identity"]) for r in sim.set_calls) == sorted(
        (t, rogues[t].guid) for t in tenants
    )
    # And the two checks ran at the same time, not one after the other.
    spans = {t: [r.at for r in requests if r.tenant == t] for t in tenants}
    (first_a, last_a), (first_b, last_b) = ((min(v), max(v)) for v in spans.values())
    assert first_a < last_b and first_b < last_a


class _NoCredentialYet:
    """What a tenant without a federated credential would have: no token."""

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        raise ClientAuthenticationError("no federated credential for this tenant yet")

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _HomeOnly(TenantCredentials):
    """The managed identity for its home tenant only, recording what was asked."""

    def __init__(self, identity: AsyncTokenCredential, home: str) -> None:
        super().__init__(identity)
        self.home = home
        self.asked: list[str] = []

    def for_tenant(self, tenant_id: str, app_id: str | None = None) -> AsyncTokenCredential:
        self.asked.append(tenant_id)
        return super().for_tenant(tenant_id) if tenant_id == self.home else _NoCredentialYet()


async def test_exchange_and_evidence_use_the_credential_of_their_tenant(sim, tenant_id):
    home, other = tenant_id, str(uuid.uuid4())
    for t in (home, other):
        sim.add_tenant(t, f"t{t[:8]}.onmicrosoft.com").seed(5)
    now = datetime.now(UTC)
    async with ManagedIdentityCredential() as identity:
        credentials = _HomeOnly(identity, home)
        async with TenantClients(credentials, sim.url, sim.url) as clients:
            observed = await observe(clients.get(home).exchange, TenantPolicy(home, "home.onmicrosoft.com"))
            with pytest.raises(ExchangeTokenError, match="no federated credential"):
                await observe(clients.get(other).exchange, TenantPolicy(other, "other.onmicrosoft.com"))
            home_evidence = await clients.get(home).evidence.read(now, 30)
            other_evidence = await clients.get(other).evidence.read(now, 30)

    assert observed.mailboxes_scanned == 5
    assert home_evidence.available
    assert not other_evidence.available and "no federated credential" in other_evidence.problem
    assert credentials.asked == [home, other]  # once per tenant: its clients are kept
    assert {r.tenant for r in exchange_http(sim)} == {home}
    assert len([r for r in sim.requests if r.cmdlet == "signIns"]) == 1


async def test_a_client_is_never_observed_against_another_tenants_policy(sim, tenant_id):
    async with (
        ManagedIdentityCredential() as identity,
        TenantClients(TenantCredentials(identity), sim.url, sim.url) as clients,
    ):
        with pytest.raises(ValueError, match="cannot observe"):
            await observe(clients.get(tenant_id).exchange, TenantPolicy(str(uuid.uuid4()), "x.example"))
    assert sim.requests == []


async def test_the_cache_is_bounded_and_never_closes_a_client_in_use(sim, customer_app):
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    for t in (a, b, c):
        sim.add_tenant(t, f"c{t[:8]}.onmicrosoft.com")
    customer_app.consent(a, b, c)
    federation = Federation(
        customer_app.home, customer_app.app_id, UAMI_CLIENT_ID, authority=customer_app.sim.entra_url
    )
    async with ManagedIdentityCredential(client_id=UAMI_CLIENT_ID) as identity:
        credentials = TenantCredentials(identity, federation=federation, **customer_app.options)
        async with credentials, TenantClients(credentials, sim.url, sim.url, max_tenants=2) as clients:
            async with clients.use(a) as held:
                async with clients.use(b) as used:
                    assert await used.exchange.org_smtp_auth_disabled() is True
                async with clients.use(c):
                    # b, the least recently used one nobody holds, made room; a is held.
                    assert len(clients) == 2
                assert await held.exchange.org_smtp_auth_disabled() is True
                assert clients.get(a) is held
            with pytest.raises(ValueError, match="closed"):
                await used.exchange.org_smtp_auth_disabled()
            assert clients.get(b) is not used  # built again when asked for
        with pytest.raises(ValueError, match="closed"):
            await held.exchange.org_smtp_auth_disabled()  # closing the cache closed every client
