"""Shared fixtures: Azurite and the simulator on free loopback ports, started once
per session and stopped after; each test gets its own tables (a fresh prefix)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from shared.shell.warm import close_warm
from sim.azurite import Azurite
from sim.rate_limit import GRAPH_REPORTS_LIMIT
from sim.server import SimServer

HOME_TENANT = "5b1f3a2e-7c4d-4e8f-9a6b-0c1d2e3f4a5b"
HOME_DOMAIN = "contoso.onmicrosoft.com"
# The user-assigned managed identity the multi-tenant app trusts (customer_app).
UAMI_CLIENT_ID = "3c9a4d2e-1f6b-4a8c-9d7e-5b2a1c0f8e6d"


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with Azurite() as az:
        yield az


@pytest.fixture(scope="session")
def sim_server() -> Iterator[SimServer]:
    with SimServer() as server:
        yield server


@pytest.fixture(autouse=True)
async def no_warm_clients() -> AsyncIterator[None]:
    """The timer jobs keep the identity and the clients warm for the process: each test
    starts cold, as a fresh worker would, and leaves nothing open."""
    yield
    await close_warm()


@pytest.fixture
def tenant_id() -> str:
    """A fresh tenant per test, so tests never see each other's mailboxes."""
    return str(uuid.uuid4())


@pytest.fixture
def sim(sim_server: SimServer, tenant_id: str) -> Iterator[SimServer]:
    """The session's simulator with a clean slate: no faults, no records, no sign-ins.

    The managed identity lives in the test's tenant: its tokens are issued there, so
    Graph shows that tenant's sign-in logs (``sim.add_sign_in`` logs there). Graph's
    real sign-in throttling is on (5 requests per 10 s per app and tenant); a test
    that needs another limit sets ``sim.sign_in_rate_limit`` itself."""
    sim_server.faults.clear()
    sim_server.reset_records()
    sim_server.clear_sign_ins()
    sim_server.graph_premium = True
    sim_server.before_sign_ins = None
    sim_server.identity_tenant = tenant_id
    sim_server.sign_in_rate_limit = GRAPH_REPORTS_LIMIT
    sim_server.clear_apps()
    yield sim_server
    sim_server.faults.clear()
    sim_server.before_sign_ins = None


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, azurite: Azurite, sim: SimServer) -> dict[str, str]:
    """The app settings a deployment would have, pointed at the local stand-ins."""
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "SMTPAUTH_EXCHANGE_URL": sim.url,
        "SMTPAUTH_GRAPH_URL": sim.url,
        "SMTPAUTH_TABLE_PREFIX": "T" + uuid.uuid4().hex[:12],
        "SMTPAUTH_CHECK_QUEUE": "q" + uuid.uuid4().hex[:12],
        "IDENTITY_ENDPOINT": sim.identity_endpoint,
        "IDENTITY_HEADER": sim.identity_header,
    }
    for name in (
        "SMTPAUTH_HOME_TENANT",
        "AZURE_CLIENT_ID",
        "SMTPAUTH_MULTITENANT_APP_ID",
        "SMTPAUTH_TOKEN_EXCHANGE_AUDIENCE",
        "AZURE_AUTHORITY_HOST",
        "SMTPAUTH_SCHEDULE",
        "MSI_ENDPOINT",
        "MSI_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@dataclass
class CustomerApp:
    """The multi-tenant app of a deployment that monitors customer tenants: registered
    in the test's tenant (the home tenant) with a federated credential that trusts the
    user-assigned identity UAMI_CLIENT_ID, as docs/tenants.md sets it up."""

    sim: SimServer
    app_id: str
    home: str

    @property
    def options(self) -> dict[str, Any]:
        """Options for each customer tenant's credential: trust the sim's test CA."""
        return {"connection_verify": self.sim.ca_bundle}

    def consent(self, *tenants: str, **grant: Any) -> None:
        """The customer's admin consented (and assigned a directory role, unless
        ``directory_role=None``) in each of ``tenants``."""
        for tenant in tenants:
            self.sim.consent(tenant, self.app_id, **grant)


@pytest.fixture
def customer_app(
    app_env: dict[str, str], sim: SimServer, tenant_id: str, monkeypatch: pytest.MonkeyPatch
) -> CustomerApp:
    """The settings of a deployment with a multi-tenant app (home = the test's tenant),
    Entra played by the sim over HTTPS. SSL_CERT_FILE makes a CLI started as a new
    process trust the sim's CA; in this process pass ``CustomerApp.options``."""
    app_id = str(uuid.uuid4())
    env = {
        "AZURE_CLIENT_ID": UAMI_CLIENT_ID,
        "SMTPAUTH_HOME_TENANT": tenant_id,
        "SMTPAUTH_MULTITENANT_APP_ID": app_id,
        "AZURE_AUTHORITY_HOST": sim.entra_url,
        "SSL_CERT_FILE": sim.ca_bundle,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app_env.update(env)
    sim.register_app(app_id, home_tenant=tenant_id, trusts_client_id=UAMI_CLIENT_ID)
    return CustomerApp(sim, app_id, tenant_id)
