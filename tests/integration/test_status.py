"""The health view through its two readers, against Azurite and the simulator: the CLI's
``status [--json]`` (a separate process, as an admin runs it) and the HTTP health
function's own code (called as the host would call it). The checks it reports run
the real path: the timer enqueues, the queue host runs the worker."""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.functions import HttpRequest
from azure.functions.timer import TimerRequest

from shared.core.model import TenantPolicy
from shared.shell.jobs import scheduled_check
from shared.shell.settings import Settings
from shared.shell.tick import fan_out

from .helpers import services
from .notify_helpers import Clock
from .queue_host import drain_all, load_functions
from .test_cli import cli

pytestmark = pytest.mark.usefixtures("app_env")

# Tenant text an attacker can reach: an Exchange error message is shown as it came.
NASTY = "denied \x1b[31mred\x1b[0m \u202eexe.dab\u202c see https://evil.example/x\nsecond line"


def add(app, name: str, **seed) -> tuple[str, str, Any]:
    """A customer tenant reached through the multi-tenant app."""
    tenant_id = str(uuid.uuid4())
    domain = f"{name}-{tenant_id[:6]}.onmicrosoft.com"
    tenant = app.sim.add_tenant(tenant_id, domain, **seed)
    tenant.seed(5)
    app.consent(tenant_id)
    return tenant_id, domain, tenant


async def tick_and_work(app_env) -> None:
    functions = load_functions()
    await functions["scheduled_check"](TimerRequest(past_due=False))
    await drain_all(app_env["AzureWebJobsStorage"], app_env["SMTPAUTH_CHECK_QUEUE"], functions)


async def call_health() -> tuple[int, dict, dict]:
    response = await load_functions()["health"](HttpRequest("GET", "/api/health", body=b""))
    headers = {**response.headers, "Content-Type": f"{response.mimetype}; charset={response.charset}"}
    return response.status_code, headers, json.loads(response.get_body())


async def test_status_lists_every_tenant_with_its_state_checks_findings_and_the_timer(app_env, customer_app):
    ok, ok_domain, _ = add(customer_app, "ok")
    drift, drift_domain, drifting = add(customer_app, "drift", org_smtp_auth_disabled=False)
    drifting.add_mailbox(f"printer@{drift_domain}", smtp_auth_disabled=False)
    broken, broken_domain, failing = add(customer_app, "broken")
    failing.forbidden = NASTY
    new, new_domain, _ = add(customer_app, "new")
    off, off_domain, _ = add(customer_app, "off")
    async with services() as svc:
        for tenant_id, domain in ((ok, ok_domain), (drift, drift_domain), (broken, broken_domain)):
            await svc.desired.put_tenant(TenantPolicy(tenant_id, domain))
        await svc.desired.put_tenant(TenantPolicy(off, off_domain, enabled=False))
    await tick_and_work(app_env)
    async with services() as svc:  # added after the tick: not checked yet
        await svc.desired.put_tenant(TenantPolicy(new, new_domain, interval_minutes=60))

    out = cli("status", "--json")
    assert out.returncode == 1, out.stderr  # drift and a tenant that cannot be checked
    doc = json.loads(out.stdout)
    assert (doc["version"], doc["exit_code"], doc["healthy"], doc["monitor_healthy"]) == (1, 1, False, True)
    tenants = {t["tenant"]: t for t in doc["tenants"]}
    assert set(tenants) == {ok, drift, broken, new, off}
    assert {t: v["state"] for t, v in tenants.items()} == {
        ok: "compliant",
        drift: "drift",
        broken: "could-not-check",
        new: "never-checked",
        off: "disabled",
    }
    assert tenants[ok]["last_check"] == tenants[ok]["last_success"] is not None
    assert (tenants[ok]["open_findings"], tenants[ok]["open_finding_kinds"]) == (0, {})
    assert tenants[drift]["open_findings"] == 2
    assert tenants[drift]["open_finding_kinds"] == {
        "mailbox-enabled-without-exception": 1,
        "org-setting-drift": 1,
    }
    assert tenants[broken]["last_check"] is not None and tenants[broken]["last_success"] is None
    assert "denied" in tenants[broken]["last_error"]
    assert tenants[new] | {"last_check": None, "interval_minutes": 60, "domain": new_domain} == tenants[new]
    assert not any(t["overdue"] for t in doc["tenants"])
    assert doc["timer"]["last_run"] is not None and doc["timer"]["late"] is False
    assert doc["timer"]["enqueued"] == doc["timer"]["due"] == 3
    assert doc["counts"] == {
        "tenants": 5, "compliant": 1, "drift": 1, "could-not-check": 1, "never-checked": 1, "disabled": 1,
        "overdue": 0,
    }  # fmt: skip
    assert doc["tenants"][0]["tenant"] == broken  # the most urgent first

    table = cli("status")
    assert table.returncode == 1, table.stderr
    assert table.stdout.startswith("Timer: last run ")
    assert "5 tenants: 1 compliant, 1 drift, 1 could not check, 1 never checked, 1 disabled; 0 overdue" in (
        table.stdout
    )
    (drift_row,) = [line for line in table.stdout.splitlines() if drift in line]
    assert (
        "drift" in drift_row and "2 (mailbox-enabled-without-exception 1, org-setting-drift 1)" in drift_row
    )
    (problem,) = [line for line in table.stdout.splitlines() if line.startswith(f"  - {broken_domain}")]
    assert "could not check" in problem and "red" in problem
    # One clean line per tenant: the error's escape, bidi and line break never reach the terminal.
    for bad in ("\x1b", "\u202e", "\u202c"):
        assert bad not in table.stdout
    assert "second line" not in table.stdout.split(problem)[1]


async def test_a_check_from_the_cli_or_the_in_process_loop_is_in_the_view_too(sim, tenant_id, customer_app):
    by_cli, cli_domain = tenant_id, "bycli.onmicrosoft.com"  # the home tenant: the admin's own
    sim.add_tenant(by_cli, cli_domain).seed(5)
    by_loop, loop_domain, _ = add(customer_app, "byloop")
    assert cli("tenant", "add", "--tenant", by_cli, "--domain", cli_domain).returncode == 0
    assert cli("check", "--tenant", by_cli).returncode == 0
    async with services() as svc:
        await svc.desired.put_tenant(TenantPolicy(by_loop, loop_domain))
    await scheduled_check(Settings.from_env())  # the demo's loop: both tenants
    doc = json.loads(cli("status", "--json").stdout)
    tenants = {t["tenant"]: t for t in doc["tenants"]}
    assert tenants[by_cli]["state"] == tenants[by_loop]["state"] == "compliant"
    assert tenants[by_loop]["last_success"] is not None
    assert tenants[by_cli]["last_success"] == tenants[by_cli]["last_check"]


async def test_the_health_function_answers_503_while_a_tenant_is_overdue_and_200_when_checks_arrive(
    app_env, customer_app
):
    tenant_id, domain, tenant = add(customer_app, "late")
    tenant.forbidden = NASTY
    two_hours_ago = Clock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2))
    async with services(two_hours_ago) as svc:
        await svc.desired.put_tenant(TenantPolicy(tenant_id, domain))
        await fan_out(svc)  # enqueued two hours ago; no worker took it

    status, headers, doc = await call_health()
    assert status == 503
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert doc["monitor_healthy"] is False and doc["timer"]["late"] is True  # no run for 2 h
    (late,) = doc["tenants"]
    assert late["overdue"] is True and late["state"] == "never-checked"
    assert late["overdue_since"] == (two_hours_ago.now + timedelta(minutes=45)).isoformat()
    assert cli("status").returncode == 1

    await tick_and_work(app_env)  # the timer runs again; the check says "could not check"
    status, _, doc = await call_health()
    # The monitor works again: its checks arrive, and the failure is the tenant's (told).
    assert status == 200 and doc["monitor_healthy"] is True and doc["healthy"] is False
    (checked,) = doc["tenants"]
    assert checked["state"] == "could-not-check" and checked["overdue"] is False
    error = checked["last_error"]
    assert "denied" in error and "red" in error and "second line" in error
    for bad in ("\x1b", "\u202e", "\u202c", "\n", "https://"):
        assert bad not in error  # no escape, no bidi, one line, no clickable link
    assert "https:\u2060//evil.example/x" in error


async def test_the_health_function_is_get_only_behind_a_function_key():
    sys.modules.pop("function_app", None)
    (health,) = [
        f
        for f in importlib.import_module("function_app").app.get_functions()
        if f.get_function_name() == "health"
    ]
    (binding,) = [b for b in json.loads(health.get_function_json())["bindings"] if b["type"] == "httpTrigger"]
    assert binding["authLevel"].lower() == "function"
    assert [m.lower() for m in binding["methods"]] == ["get"]
    assert binding["route"] == "health"


async def test_a_health_view_that_cannot_be_read_is_503_and_says_nothing_of_the_settings(monkeypatch):
    monkeypatch.setenv("SMTPAUTH_TABLE_PREFIX", "9-secret-looking-value")
    status, _, doc = await call_health()
    assert status == 503
    assert doc["monitor_healthy"] is False and "secret-looking" not in json.dumps(doc)
    out = cli("status")
    assert out.returncode == 2 and "SMTPAUTH_TABLE_PREFIX" in out.stderr
