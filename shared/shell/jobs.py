"""The timer jobs: what the timer triggers run, and what the demo runs too."""

from __future__ import annotations

import logging

from shared.core.model import CheckResult, Status
from shared.notify.dispatch import Delivery
from shared.shell.cycle import run_cycle
from shared.shell.runtime import open_runtime
from shared.shell.settings import Settings

log = logging.getLogger(__name__)


class CheckIncomplete(RuntimeError):
    """Some tenant could not be checked. Raised after every tenant ran, so the
    execution shows as failed in monitoring and an alert rule can fire."""


async def scheduled_check(settings: Settings) -> list[CheckResult]:
    """Check every enabled tenant with the managed identity; record each run; queue
    what changed and send what is due (new notifications and earlier failures). The
    identity and the tenants' clients stay warm for the next invocation."""
    async with open_runtime(settings, keep_warm=True) as runtime:
        cycle = await run_cycle(runtime)
    if cycle.delivery is not None:
        _log_delivery(cycle.delivery)
    results = cycle.results
    drift = sum(r.status is Status.DRIFT for r in results)
    failed = sum(r.status is Status.ERROR for r in results)
    log.info("checked %d tenant(s): %d with drift, %d could not be checked", len(results), drift, failed)
    return results


async def weekly_digest(settings: Settings) -> Delivery:
    """Queue and send each enabled tenant's digest (from recorded history; no
    Exchange call), then anything else due for those tenants."""
    async with open_runtime(settings, keep_warm=True) as runtime:
        loads = [load for load in await runtime.desired.load() if load.enabled]
        await runtime.notifier.queue_digests(loads, runtime.history)
        delivery = await runtime.notifier.deliver(load.tenant_id for load in loads)
    _log_delivery(delivery)
    return delivery


def _log_delivery(delivery: Delivery) -> None:
    if delivery.sent or delivery.failed or delivery.dead:
        log.info(
            "notifications: %d sent, %d to retry, %d given up",
            len(delivery.sent),
            len(delivery.failed),
            len(delivery.dead),
        )


def raise_if_incomplete(results: list[CheckResult]) -> None:
    failed = [r.tenant_id for r in results if r.status is Status.ERROR]
    if failed:
        raise CheckIncomplete(f"could not check tenant(s): {', '.join(failed)}")
