"""The scheduled job: what the timer trigger runs, and what the demo runs too."""

from __future__ import annotations

import logging

from .engine import check_tenants
from .identity import managed_identity
from .model import CheckResult, Status
from .services import open_services
from .settings import Settings

log = logging.getLogger(__name__)


class CheckIncomplete(RuntimeError):
    """Some tenant could not be checked. Raised after every tenant ran, so the
    execution shows as failed in monitoring and an alert rule can fire."""


async def scheduled_check(settings: Settings) -> list[CheckResult]:
    """Check every enabled tenant with the managed identity; record each run."""
    async with (
        managed_identity(settings.client_id) as credential,
        open_services(settings, credential) as services,
    ):
        results = await check_tenants(services, parallel=settings.max_parallel_tenants)
    drift = sum(r.status is Status.DRIFT for r in results)
    failed = sum(r.status is Status.ERROR for r in results)
    log.info("checked %d tenant(s): %d with drift, %d could not be checked", len(results), drift, failed)
    return results


def raise_if_incomplete(results: list[CheckResult]) -> None:
    failed = [r.tenant_id for r in results if r.status is Status.ERROR]
    if failed:
        raise CheckIncomplete(f"could not check tenant(s): {', '.join(failed)}")
