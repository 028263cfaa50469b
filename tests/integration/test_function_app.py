"""The registered Functions entry points, called as the host would call them."""

from __future__ import annotations

import importlib
import json
import sys

import pytest
from azure.functions.timer import TimerRequest

from shared.core.model import Status, TenantPolicy
from shared.shell.settings import SettingsError

from .helpers import services
from .queue_host import drain_all, load_functions


def load_app(monkeypatch, schedule: str | None = None):
    if schedule is None:
        monkeypatch.delenv("SMTPAUTH_SCHEDULE", raising=False)
    else:
        monkeypatch.setenv("SMTPAUTH_SCHEDULE", schedule)
    sys.modules.pop("function_app", None)
    module = importlib.import_module("function_app")
    return {f.get_function_name(): f for f in module.app.get_functions()}


def test_timer_binding(monkeypatch):
    timer = load_app(monkeypatch)["scheduled_check"]
    (binding,) = json.loads(timer.get_function_json())["bindings"]
    assert binding["type"] == "timerTrigger"
    assert binding["schedule"] == "0 */15 * * * *"
    assert binding["runOnStartup"] is False


def test_schedule_comes_from_the_app_setting(monkeypatch):
    timer = load_app(monkeypatch, "0 0 * * * *")["scheduled_check"]
    assert json.loads(timer.get_function_json())["bindings"][0]["schedule"] == "0 0 * * * *"


def test_digest_schedule_comes_from_its_app_setting(monkeypatch):
    monkeypatch.setenv("SMTPAUTH_DIGEST_SCHEDULE", "0 0 8 * * Mon")
    digest = load_app(monkeypatch)["weekly_digest"]
    assert json.loads(digest.get_function_json())["bindings"][0]["schedule"] == "0 0 8 * * Mon"


@pytest.mark.parametrize("name", ["SMTPAUTH_SCHEDULE", "SMTPAUTH_DIGEST_SCHEDULE"])
def test_a_bad_schedule_stops_indexing_and_names_the_setting(monkeypatch, name):
    # What the host log shows an operator: which app setting to fix, and its value.
    monkeypatch.setenv(name, "every minute")
    sys.modules.pop("function_app", None)
    with pytest.raises(SettingsError, match=f"^{name} must be an NCRONTAB expression") as err:
        importlib.import_module("function_app")
    assert "'every minute'" in str(err.value)
    assert "function_app" not in sys.modules  # no half-registered app is left behind


async def run_timer_and_queue(app_env) -> None:
    """The timer fires, then the host runs the queued checks (tests/integration/queue_host.py)."""
    functions = load_functions()
    await functions["scheduled_check"](TimerRequest(past_due=False))
    await drain_all(app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_CHECK_QUEUE"], functions)


async def test_timer_and_queue_functions_check_every_enabled_tenant(sim, tenant_id, app_env):
    sim.add_tenant(tenant_id, "timer.onmicrosoft.com", org_smtp_auth_disabled=False).seed(20)
    async with services() as svc:
        await svc.desired.put_tenant(TenantPolicy(tenant_id, "timer.onmicrosoft.com"))
    await run_timer_and_queue(app_env)
    async with services() as svc:
        (last,) = await svc.history.runs(tenant_id)
    assert last.status is Status.DRIFT and last.org_actual is False
    assert sim.token_requests >= 1  # the managed identity endpoint was used


async def test_a_tenant_that_cannot_be_checked_is_recorded_and_logged_as_an_error(
    sim, tenant_id, app_env, caplog
):
    sim.add_tenant(tenant_id, "nope.onmicrosoft.com").forbidden = "denied"
    async with services() as svc:
        await svc.desired.put_tenant(TenantPolicy(tenant_id, "nope.onmicrosoft.com"))
    await run_timer_and_queue(app_env)
    async with services() as svc:
        (last,) = await svc.history.runs(tenant_id)
    assert last.status is Status.ERROR and "denied" in last.error
    # What an alert rule on the function's logs can fire on (the execution succeeds:
    # retrying a 403 a minute later would change nothing).
    assert any(r.levelname == "ERROR" and tenant_id in r.getMessage() for r in caplog.records)


async def test_user_assigned_identity_is_chosen_by_azure_client_id(monkeypatch, sim, tenant_id, app_env):
    sim.add_tenant(tenant_id, "uami.onmicrosoft.com").seed(5)
    async with services() as svc:
        await svc.desired.put_tenant(TenantPolicy(tenant_id, "uami.onmicrosoft.com"))
    uami = "6c1d3f0e-9b8a-4c7d-8e6f-5a4b3c2d1e0f"
    sim.allowed_client_ids = [uami]
    try:
        monkeypatch.setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000000")
        await run_timer_and_queue(app_env)
        monkeypatch.setenv("AZURE_CLIENT_ID", uami)
        await run_timer_and_queue(app_env)
    finally:
        sim.allowed_client_ids = None
    async with services() as svc:
        latest, failed = await svc.history.runs(tenant_id)
    assert failed.status is Status.ERROR
    assert "could not get a token" in failed.error
    assert "Unable to load the proper Managed Identity" in failed.error
    assert latest.status is Status.COMPLIANT
