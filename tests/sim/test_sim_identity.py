"""Managed identity endpoint: the App Service protocol azure-identity speaks."""

from __future__ import annotations

import time
import uuid

import aiohttp
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity.aio import ManagedIdentityCredential

from sim import SimServer, SimTenant
from tests.sim.exo_http import ANCHOR, EXCHANGE, ExoClient, cmdlet_body, http, mint_token


def test_token_is_minted_opaque_and_accepted(fresh_sim: SimServer, exo_tenant: SimTenant) -> None:
    reply = mint_token(fresh_sim)

    assert reply.status == 200
    body = reply.json
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert not body["access_token"].startswith("eyJ")  # opaque, not a JWT
    assert body["access_token"].count(".") == 0
    assert isinstance(body["expires_on"], str)
    assert 3500 < int(body["expires_on"]) - time.time() <= 3600
    assert body["resource"] == EXCHANGE
    assert body["token_type"] == "Bearer"
    assert body["client_id"] == fresh_sim.default_client_id
    assert fresh_sim.token_requests == 1

    api = ExoClient(fresh_sim, exo_tenant, body["access_token"])
    assert api.invoke("Get-TransportConfig").status == 200


@pytest.mark.parametrize("header", [None, "wrong"])
def test_wrong_or_missing_identity_header_is_401(fresh_sim: SimServer, header: str | None) -> None:
    headers = {} if header is None else {"X-IDENTITY-HEADER": header}
    reply = http(
        "GET", f"{fresh_sim.identity_endpoint}?api-version=2019-08-01&resource={EXCHANGE}", headers=headers
    )

    assert reply.status == 401
    assert "X-IDENTITY-HEADER" in reply.json["message"]
    assert fresh_sim.token_requests == 1  # counted even when refused


def test_missing_resource_is_400(fresh_sim: SimServer) -> None:
    reply = http(
        "GET",
        f"{fresh_sim.identity_endpoint}?api-version=2019-08-01",
        headers={"X-IDENTITY-HEADER": fresh_sim.identity_header},
    )
    assert reply.status == 400
    assert reply.json["statusCode"] == 400


def test_allowed_client_ids(fresh_sim: SimServer) -> None:
    fresh_sim.allowed_client_ids = {"11111111-1111-1111-1111-111111111111"}

    wrong = mint_token(fresh_sim, client_id="22222222-2222-2222-2222-222222222222")
    right = mint_token(fresh_sim, client_id="11111111-1111-1111-1111-111111111111")
    system_assigned = mint_token(fresh_sim)

    assert wrong.status == 400
    assert "Managed Identity" in wrong.json["message"]
    assert right.status == 200
    assert right.json["client_id"] == "11111111-1111-1111-1111-111111111111"
    assert system_assigned.status == 400  # default id not in the allowed set


def test_errors_carry_the_platform_body(fresh_sim: SimServer) -> None:
    """{"statusCode", "message", "correlationId"}, as App Service answers; the unknown
    identity in its exact words."""
    fresh_sim.allowed_client_ids = {"11111111-1111-1111-1111-111111111111"}

    unknown = mint_token(fresh_sim, client_id="22222222-2222-2222-2222-222222222222")
    no_header = http("GET", f"{fresh_sim.identity_endpoint}?api-version=2019-08-01&resource={EXCHANGE}")

    assert unknown.json == {
        "statusCode": 400,
        "message": "Unable to load the proper Managed Identity.",
        "correlationId": unknown.json["correlationId"],
    }
    for reply in (unknown, no_header):
        assert set(reply.json) == {"statusCode", "message", "correlationId"}
        assert reply.json["statusCode"] == reply.status
        assert uuid.UUID(reply.json["correlationId"])
    assert unknown.json["correlationId"] != no_header.json["correlationId"]


def test_the_identity_tenant_is_the_first_tenant_unless_set(
    fresh_sim: SimServer, exo_tenant: SimTenant
) -> None:
    # Where tokens are issued (and so whose sign-in logs Graph shows: test_sim_signins.py).
    fresh_sim.identity_tenant = None  # the exo_tenant fixture sets it to its tenant
    assert fresh_sim.identity_tenant == fresh_sim.tenants[0].tenant_id
    fresh_sim.identity_tenant = exo_tenant.tenant_id.upper()
    assert fresh_sim.identity_tenant == exo_tenant.tenant_id


def test_token_for_another_resource_is_refused_by_exchange(
    fresh_sim: SimServer, exo_tenant: SimTenant
) -> None:
    graph_token = mint_token(fresh_sim, resource="https://graph.microsoft.com").json["access_token"]

    reply = ExoClient(fresh_sim, exo_tenant, graph_token).invoke("Get-TransportConfig")

    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert "graph.microsoft.com" in reply.useful_message


def test_trailing_slash_resource_is_accepted(fresh_sim: SimServer, exo_tenant: SimTenant) -> None:
    token = mint_token(fresh_sim, resource=EXCHANGE + "/").json["access_token"]
    assert ExoClient(fresh_sim, exo_tenant, token).invoke("Get-TransportConfig").status == 200


@pytest.mark.asyncio
async def test_real_managed_identity_credential_gets_a_working_token(
    fresh_sim: SimServer, exo_tenant: SimTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", fresh_sim.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", fresh_sim.identity_header)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # azure-core's transport trusts env proxies
    for name in ("MSI_ENDPOINT", "MSI_SECRET", "AZURE_CLIENT_ID", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)

    async with ManagedIdentityCredential() as credential:
        token = await credential.get_token(f"{EXCHANGE}/.default")
        again = await credential.get_token(f"{EXCHANGE}/.default")

    assert again.token == token.token  # the credential caches
    assert fresh_sim.token_requests == 1
    assert token.expires_on > time.time() + 3000

    url = f"{fresh_sim.exchange_url}/adminapi/beta/{exo_tenant.tenant_id}/InvokeCommand"
    headers = {"Authorization": f"Bearer {token.token}", "X-AnchorMailbox": ANCHOR + exo_tenant.tenant_id}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=cmdlet_body("Get-TransportConfig"), headers=headers) as response,
    ):
        assert response.status == 200
        body = await response.json()
    assert body["value"][0]["SmtpClientAuthenticationDisabled"] is True


@pytest.mark.asyncio
async def test_wrong_user_assigned_client_id_fails(
    fresh_sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", fresh_sim.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", fresh_sim.identity_header)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.delenv("MSI_ENDPOINT", raising=False)
    fresh_sim.allowed_client_ids = {"11111111-1111-1111-1111-111111111111"}

    async with ManagedIdentityCredential(client_id="33333333-3333-3333-3333-333333333333") as credential:
        with pytest.raises(ClientAuthenticationError, match="Managed Identity"):
            await credential.get_token(f"{EXCHANGE}/.default")
