"""Fixtures for the simulator's own contract tests (real HTTP, no mocks).

Names are distinct from the project-wide fixtures in tests/conftest.py so the two
never shadow each other: one SimServer per session here (`simulator`), a fresh
tenant per test (`exo_tenant`), and a tiny urllib client for it (`exo`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from sim import SimServer, SimTenant
from sim.rate_limit import GRAPH_REPORTS_LIMIT
from tests.sim.exo_http import SEEDED, SEEDED_OVERRIDES, ExoClient


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimServer]:
    with SimServer() as server:
        yield server


def _defaults(simulator: SimServer) -> None:
    simulator.faults.clear()
    simulator.next_link_key = "@odata.nextLink"
    simulator.allowed_client_ids = None
    simulator.identity_tenant = None
    simulator.clear_sign_ins()
    simulator.graph_premium = True
    # The real limit: tests that want another (or none) set it themselves.
    simulator.sign_in_rate_limit = GRAPH_REPORTS_LIMIT


@pytest.fixture
def fresh_sim(simulator: SimServer) -> Iterator[SimServer]:
    """The session's simulator with no faults, no records and default options."""
    _defaults(simulator)
    simulator.reset_records()
    yield simulator
    _defaults(simulator)


@pytest.fixture
def exchange_token(fresh_sim: SimServer, exo_tenant: SimTenant) -> str:
    """The managed identity's Exchange token, issued in the test's tenant: a token names
    one tenant, and Exchange refuses another tenant's."""
    return fresh_sim.issue_token(tenant=exo_tenant.tenant_id)  # minted directly: no request recorded


@pytest.fixture
def exo_tenant(fresh_sim: SimServer) -> Iterator[SimTenant]:
    """A tenant of its own for each test: 2,500 seeded mailboxes, org SMTP AUTH off."""
    tenant_id = str(uuid.uuid4())
    tenant = fresh_sim.add_tenant(tenant_id, f"t{tenant_id[:8]}.onmicrosoft.com")
    # The identity lives here: tokens from its endpoint are issued in this tenant.
    fresh_sim.identity_tenant = tenant_id
    tenant.seed(SEEDED, overrides=SEEDED_OVERRIDES)
    yield tenant
    fresh_sim.remove_tenant(tenant_id)


@pytest.fixture
def exo(fresh_sim: SimServer, exo_tenant: SimTenant, exchange_token: str) -> ExoClient:
    return ExoClient(fresh_sim, exo_tenant, exchange_token)
