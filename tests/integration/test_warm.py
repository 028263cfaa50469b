"""A warm Functions worker keeps its identity and each tenant's clients between
timer invocations: the second run asks the identity endpoint for nothing."""

from __future__ import annotations

import asyncio

import pytest

from shared.core.model import Status, TenantPolicy
from shared.shell.jobs import scheduled_check
from shared.shell.runtime import open_runtime
from shared.shell.settings import Settings
from shared.shell.warm import close_warm

from .helpers import services

pytestmark = pytest.mark.usefixtures("app_env")


async def test_a_second_invocation_reuses_the_token_and_the_clients(sim, tenant_id):
    sim.add_tenant(tenant_id, "warm.onmicrosoft.com").seed(10)
    async with services() as svc:
        await svc.desired.put_tenant(TenantPolicy(tenant_id, "warm.onmicrosoft.com"))
    sim.reset_records()

    (first,) = await scheduled_check(Settings.from_env())
    tokens = sim.token_requests
    assert first.status is Status.COMPLIANT and tokens >= 1
    async with open_runtime(Settings.from_env(), keep_warm=True) as runtime:
        client = runtime.clients.get(tenant_id)
    (second,) = await scheduled_check(Settings.from_env())
    assert second.status is Status.COMPLIANT
    assert sim.token_requests == tokens  # the cached token served the second run
    async with open_runtime(Settings.from_env(), keep_warm=True) as runtime:
        assert runtime.clients.get(tenant_id) is client  # same client, same connections


async def test_other_settings_or_a_cold_runtime_get_clients_of_their_own(sim, tenant_id, monkeypatch):
    async with open_runtime(Settings.from_env(), keep_warm=True) as runtime:
        warm = runtime.clients
    async with open_runtime(Settings.from_env()) as runtime:
        assert runtime.clients is not warm  # the CLI and the tests: opened and closed per run
    monkeypatch.setenv("AZURE_CLIENT_ID", "6c1d3f0e-9b8a-4c7d-8e6f-5a4b3c2d1e0f")
    async with open_runtime(Settings.from_env(), keep_warm=True) as runtime:
        assert runtime.clients is not warm  # another identity: another pool


def test_clients_are_never_carried_to_another_event_loop(sim, tenant_id):
    settings = Settings.from_env()

    async def clients() -> object:
        async with open_runtime(settings, keep_warm=True) as runtime:
            return runtime.clients

    async def twice() -> tuple[object, object]:
        try:
            return await clients(), await clients()
        finally:
            await close_warm()

    a, b = asyncio.run(twice())
    c, _ = asyncio.run(twice())
    assert a is b  # one loop: one pool
    assert c is not a  # a new loop (a restarted worker): built anew


def test_a_pool_is_closed_when_its_loop_ends(sim, tenant_id, caplog):
    """The CLI and the demo run each job under its own ``asyncio.run``: what the job
    kept warm is closed with that loop, not left for the garbage collector."""
    import gc

    sim.add_tenant(tenant_id, "ends.onmicrosoft.com").seed(3)

    async def seed() -> None:
        async with services() as svc:
            await svc.desired.put_tenant(TenantPolicy(tenant_id, "ends.onmicrosoft.com"))

    asyncio.run(seed())
    caplog.set_level("ERROR", logger="asyncio")
    for _ in range(2):
        (result,) = asyncio.run(scheduled_check(Settings.from_env()))
        assert result.status is Status.COMPLIANT
    gc.collect()
    assert not [r for r in caplog.records if "Unclosed" in r.getMessage()]
