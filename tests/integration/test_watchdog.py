"""The watchdog's event: every check the queue function finishes logs one
"check_completed" record whose extra fields (customDimensions in Application
Insights) say how many tenants it checked and how many could not be checked; a
message that checks nothing logs none, so the alert (infra/app/alerts.bicep) sees
only real checks."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from azure.functions.queue import QueueMessage

from shared.core.fanout import CheckMessage
from shared.core.model import TenantPolicy
from shared.shell.watchdog import CHECK_COMPLETED

from .helpers import services
from .notify_helpers import start_clock
from .queue_host import load_functions

pytestmark = pytest.mark.usefixtures("app_env")


def completed(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == CHECK_COMPLETED]


async def run_check(tenant_id: str, message_id: str) -> None:
    body = CheckMessage(tenant_id, start_clock().now - timedelta(seconds=5)).to_text().encode()
    await load_functions()["check_tenant"](QueueMessage(id=message_id, body=body, dequeue_count=1))


async def test_a_finished_check_logs_one_event_with_its_counts(sim, tenant_id, caplog):
    caplog.set_level(logging.INFO, logger="smtpauth.watchdog")
    sim.add_tenant(tenant_id, "wd.onmicrosoft.com", org_smtp_auth_disabled=False).seed(3)
    async with services() as svc:
        await svc.desired.put_tenant(TenantPolicy(tenant_id, "wd.onmicrosoft.com"))

    await run_check(tenant_id, "m1")

    (record,) = completed(caplog)
    assert (record.trigger, record.tenants, record.failures, record.drift) == ("queue", 1, 0, 1)
    assert record.name == "smtpauth.watchdog" and record.levelno == logging.INFO


async def test_a_tenant_that_cannot_be_checked_counts_as_a_failure(sim, tenant_id, caplog):
    caplog.set_level(logging.INFO, logger="smtpauth.watchdog")
    sim.add_tenant(tenant_id, "wdno.onmicrosoft.com").forbidden = "denied"
    async with services() as svc:
        await svc.desired.put_tenant(TenantPolicy(tenant_id, "wdno.onmicrosoft.com"))

    await run_check(tenant_id, "m2")

    (record,) = completed(caplog)
    assert (record.tenants, record.failures) == (1, 1)


async def test_a_message_that_checks_nothing_logs_no_event(sim, tenant_id, caplog):
    caplog.set_level(logging.INFO, logger="smtpauth.watchdog")
    await run_check(tenant_id, "m3")  # no row for the tenant: nothing is monitored
    assert completed(caplog) == []
