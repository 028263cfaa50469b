"""Tenant-specific Exchange hosts: a redirect is followed (same method, body and
token) only to the configured host or a host under it, and the tenant's client keeps
using that host; a next link may point there too, default ports normalised; anything
else is refused before a request is sent. Real HTTP to the simulator under names
below ``localhost`` (RFC 6761: loopback only), which a test resolver maps to
127.0.0.1 and refuses for every other name, so no real endpoint is ever asked."""

from __future__ import annotations

import socket
import time
from typing import Any

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import AioHttpTransport
from azure.identity.aio import ManagedIdentityCredential

from shared.adapters.exchange_errors import ExchangeProtocolError
from shared.adapters.smtp_auth import SmtpAuthClient

pytestmark = pytest.mark.usefixtures("app_env")


class LoopbackResolver(AbstractResolver):
    """``localhost`` and names under it -> 127.0.0.1; any other name is an error."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[Any]:
        self.asked.append(host)
        if host != "localhost" and not host.endswith(".localhost"):
            raise OSError(f"test resolver: {host} is not a loopback name")
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST}]  # fmt: skip

    async def close(self) -> None:
        return None


class _IssuedIn:
    """A token the sim issued in one tenant: a token names one tenant, so a second
    tenant's client cannot share the home identity's."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)

    async def close(self) -> None:
        return None


@pytest.fixture
async def resolver():
    return LoopbackResolver()


@pytest.fixture
async def open_client(sim, resolver, tenant_id):
    sessions = []

    async def make(tenant: str) -> SmtpAuthClient:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=resolver), trust_env=False)
        sessions.append(session)
        transport = AioHttpTransport(session=session, session_owner=False, use_env_settings=False)
        own = credential if tenant == tenant_id else _IssuedIn(sim.issue_token(tenant=tenant))
        return SmtpAuthClient(f"http://localhost:{sim.port}", tenant, own, transport=transport)

    async with ManagedIdentityCredential() as credential:
        made: list[SmtpAuthClient] = []

        async def factory(tenant_id: str) -> SmtpAuthClient:
            client = await make(tenant_id)
            made.append(client)
            return client

        yield factory
        for client in made:
            await client.close()
    for session in sessions:
        await session.close()


def exchange_requests(sim):
    return [r for r in sim.requests if "/adminapi/" in r.path]


async def test_a_redirect_to_the_tenants_host_is_followed_and_remembered(sim, tenant_id, open_client):
    tenant = sim.add_tenant(tenant_id, "moved.onmicrosoft.com")
    tenant.seed(5, overrides={2: False})
    home = f"tenant1.localhost:{sim.port}"
    tenant.home_host = home
    other_id = "0d6a1f2e-3b4c-4d5e-8f70-8192a3b4c5d6"
    sim.add_tenant(other_id, "stays.onmicrosoft.com").seed(1)
    client = await open_client(tenant_id)
    other = await open_client(other_id)

    assert await client.org_smtp_auth_disabled() is True
    moved, followed = exchange_requests(sim)
    assert (moved.status, moved.headers["host"]) == (302, f"localhost:{sim.port}")
    assert (followed.status, followed.headers["host"]) == (200, home)
    assert followed.bearer and followed.method == "POST" and followed.cmdlet == "Get-TransportConfig"
    assert followed.query == moved.query  # the same URL's path and query, on the tenant's host
    assert client.transport.endpoint == f"http://{home}"

    # Later calls of this tenant's client go straight there: pages and $batch alike.
    sim.reset_records()
    mailboxes = [m async for page in client.cas_mailbox_pages() for m in page]
    assert len(mailboxes) == 5
    read = await client.read_mailboxes([tenant.mailbox_at(2).guid])
    assert read[tenant.mailbox_at(2).guid].smtp_auth_disabled is False
    assert {(r.headers["host"], r.status) for r in exchange_requests(sim) if r.headers} == {(home, 200)}

    # Another tenant's client is not moved.
    sim.reset_records()
    assert await other.org_smtp_auth_disabled() is True
    (direct,) = exchange_requests(sim)
    assert direct.headers["host"] == f"localhost:{sim.port}" and direct.status == 200


async def test_a_batch_is_redirected_with_its_body(sim, tenant_id, open_client):
    tenant = sim.add_tenant(tenant_id, "movedbatch.onmicrosoft.com")
    tenant.seed(3)
    tenant.home_host = f"tenant2.localhost:{sim.port}"
    client = await open_client(tenant_id)
    read = await client.read_mailboxes([tenant.mailbox_at(i).guid for i in range(3)])
    assert all(not isinstance(v, str) for v in read.values())
    batches = [r for r in sim.requests if r.path.endswith("/$batch")]
    assert [r.status for r in batches] == [302, 200]
    items = [r for r in sim.requests if r.cmdlet == "Get-CASMailbox"]
    assert len(items) == 3 and all(r.bearer for r in items)  # the same items, token and all


@pytest.mark.parametrize(
    "home",
    ["evil.example.net", "localhost.evil.example.net", "xlocalhost:{port}", "tenant1.localhost:1"],
    ids=["other-host", "suffix-trick", "not-a-subdomain", "other-port"],
)
async def test_a_redirect_anywhere_else_is_refused_before_sending(
    sim, tenant_id, open_client, resolver, home
):
    tenant = sim.add_tenant(tenant_id, "hostile.onmicrosoft.com")
    tenant.home_host = home.format(port=sim.port)
    client = await open_client(tenant_id)
    with pytest.raises(ExchangeProtocolError, match="refused, nothing was sent there"):
        await client.org_smtp_auth_disabled()
    assert [r.status for r in exchange_requests(sim)] == [302]  # the token went nowhere else
    assert set(resolver.asked) == {"localhost"}  # the other name was never even looked up
    assert client.transport.endpoint == f"http://localhost:{sim.port}"


async def test_a_next_link_on_the_tenants_host_is_followed(sim, tenant_id, open_client):
    tenant = sim.add_tenant(tenant_id, "links.onmicrosoft.com")
    tenant.seed(1500)
    sim.next_link_origin = f"http://tenant3.localhost:{sim.port}"
    try:
        client = await open_client(tenant_id)
        mailboxes = [m async for page in client.cas_mailbox_pages() for m in page]
    finally:
        sim.next_link_origin = None
    assert len(mailboxes) == 1500
    # This tenant's requests only: an earlier test's cancelled run may still reach the shared simulator.
    hosts = [r.headers["host"] for r in exchange_requests(sim) if r.tenant == tenant_id]
    assert hosts == [f"localhost:{sim.port}", f"tenant3.localhost:{sim.port}"]


@pytest.mark.parametrize(
    ("link", "allowed"),
    [
        ("https://outlook.office365.com:443/adminapi/beta/t/InvokeCommand", True),
        ("https://tenant1.outlook.office365.com:443/adminapi/beta/t/InvokeCommand", True),
        ("https://tenant1.outlook.office365.com/adminapi/beta/t/InvokeCommand", True),
        ("https://tenant1.outlook.office365.com:8443/adminapi/beta/t/InvokeCommand", False),
        ("http://tenant1.outlook.office365.com:443/adminapi/beta/t/InvokeCommand", False),
        ("https://outlook.office365.com.evil.net/adminapi/beta/t/InvokeCommand", False),
        ("https://evil-outlook.office365.com/adminapi/beta/t/InvokeCommand", False),
        ("https://xoutlook.office365.com/adminapi/beta/t/InvokeCommand", False),
    ],
)
async def test_which_links_the_token_may_follow_default_ports_normalised(link, allowed):
    # The production host: ":443" is no port; a host under it is the tenant's own.
    async with ManagedIdentityCredential() as credential:
        client = SmtpAuthClient("https://outlook.office365.com", "t", credential)
        try:
            assert client.transport.allowed(link) is allowed
        finally:
            await client.close()
