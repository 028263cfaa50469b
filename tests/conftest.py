"""Shared fixtures: Azurite and the simulator on free loopback ports, started once
per session and stopped after; each test gets its own tables (a fresh prefix)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from shared.shell.warm import close_warm
from sim.azurite import Azurite
from sim.rate_limit import GRAPH_REPORTS_LIMIT
from sim.server import SimServer

HOME_TENANT = "5b1f3a2e-7c4d-4e8f-9a6b-0c1d2e3f4a5b"
HOME_DOMAIN = "contoso.onmicrosoft.com"


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
        "SMTPAUTH_SCHEDULE",
        "MSI_ENDPOINT",
        "MSI_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
