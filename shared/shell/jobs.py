"""The scheduled job: what the timer trigger runs, and what the demo runs too."""

from __future__ import annotations

import logging

from shared.adapters.credentials import managed_identity
from shared.core.model import CheckResult, Status
from shared.notify.dispatch import Delivery
from shared.shell.engine import check_tenants
from shared.shell.runtime import open_notifier, open_services
from shared.shell.settings import Settings

log = logging.getLogger(__name__)


class CheckIncomplete(RuntimeError):
    """Some tenant could not be checked. Raised after every tenant ran, so the
    execution shows as failed in monitoring and an alert rule can fire."""


async def scheduled_check(settings: Settings) -> list[CheckResult]:
    """Check every enabled tenant with the managed identity; record each run; queue
    what changed and send what is due (new notifications and earlier failures)."""
    async with (
        managed_identity(settings.client_id) as credential,
        open_services(settings, credential) as services,
        open_notifier(settings, credential) as notifier,
    ):
        results = await check_tenants(
            services,
            parallel=settings.max_parallel_tenants,
            after_each=lambda result: notifier.queue_results([result], services.history),
        )
        _log_delivery(await notifier.deliver(r.tenant_id for r in results))
    drift = sum(r.status is Status.DRIFT for r in results)
    failed = sum(r.status is Status.ERROR for r in results)
    log.info("checked %d tenant(s): %d with drift, %d could not be checked", len(results), drift, failed)
    return results


async def weekly_digest(settings: Settings) -> Delivery:
    """Queue and send each enabled tenant's digest (from recorded history; no
    Exchange call), then anything else due for those tenants."""
    async with (
        managed_identity(settings.client_id) as credential,
        open_services(settings, credential) as services,
        open_notifier(settings, credential) as notifier,
    ):
        loads = [load for load in await services.desired.load() if load.enabled]
        await notifier.queue_digests(loads, services.history)
        delivery = await notifier.deliver(load.tenant_id for load in loads)
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
