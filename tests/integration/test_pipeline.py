"""Every azure-core pipeline of the product names it the same way: the Exchange
transport and the Teams sender send one user agent, over real HTTP to the simulator."""

from __future__ import annotations

import json

import pytest
from azure.identity.aio import ManagedIdentityCredential

from shared.adapters.pipeline import USER_AGENT
from shared.adapters.smtp_auth import SmtpAuthClient
from shared.adapters.teams_webhook import TeamsSender

pytestmark = pytest.mark.usefixtures("app_env")
CARD = {
    "type": "message",
    "attachments": [
        {
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {"type": "AdaptiveCard", "version": "1.4", "body": []},
        }
    ],
}


async def test_exchange_and_teams_send_the_same_user_agent(sim, tenant_id):
    sim.add_tenant(tenant_id, "agent.onmicrosoft.com")
    url = sim.add_teams_webhook()
    async with (
        ManagedIdentityCredential() as credential,
        SmtpAuthClient(sim.url, tenant_id, credential) as exchange,
    ):
        await exchange.org_smtp_auth_disabled()
    async with TeamsSender() as teams:
        await teams.send(url, json.dumps(CARD).encode(), setting="T")
    # Only this test's own requests: an earlier test's cancelled run may still reach the sim.
    (invoke,) = [r for r in sim.requests if r.path.endswith(f"/{tenant_id}/InvokeCommand")]
    (post,) = [r for r in sim.requests if r.path.startswith("/workflows/") and r.path in url]
    assert invoke.headers["user-agent"] == post.headers["user-agent"] == USER_AGENT


async def test_the_user_agent_takes_an_application_id_like_any_azure_client(sim, tenant_id):
    sim.add_tenant(tenant_id, "appid.onmicrosoft.com")
    async with (
        ManagedIdentityCredential() as credential,
        SmtpAuthClient(sim.url, tenant_id, credential, user_agent="contoso-msp/2.1") as exchange,
    ):
        await exchange.org_smtp_auth_disabled()
    (invoke,) = [r for r in sim.requests if r.path.endswith("/InvokeCommand")]
    assert invoke.headers["user-agent"] == f"contoso-msp/2.1 {USER_AGENT}"
