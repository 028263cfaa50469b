"""One cycle: check the tenants, queue each tenant's message right after its run is
recorded, then deliver what is due. The timer, the CLI, the demo and the tests all
run this, on a Runtime from shared.shell.runtime."""

from __future__ import annotations

from dataclasses import dataclass

from shared.core.model import CheckResult
from shared.notify.dispatch import Delivery
from shared.shell.engine import Progress, check_tenants
from shared.shell.ports import CycleServices


@dataclass(frozen=True)
class Cycle:
    results: list[CheckResult]
    queued: int  # notifications written to the outbox by this cycle
    delivery: Delivery | None  # None: delivery was left to a later cycle


async def run_cycle(
    runtime: CycleServices,
    tenant: str | None = None,
    *,
    deliver: bool = True,
    progress: Progress | None = None,
    only_enabled: bool = False,
) -> Cycle:
    """Check every enabled tenant (or the one asked for, enabled or not unless
    ``only_enabled``: the queue worker's, as the tenant may have been switched off since
    the timer enqueued it), a few at a time.

    Each tenant is queued as soon as its run is recorded, not after all of them: the
    recorded run is what the next run diffs against, so a cycle stopped later (by the
    host's timeout, or a crash) would otherwise lose what this tenant had to tell."""
    queued = 0

    async def queue(result: CheckResult) -> None:
        nonlocal queued
        try:
            queued += await runtime.notifier.queue_results([result], runtime.history)
        finally:
            # Every check path records here: the health view, the overdue rule and the
            # grace period's report-mode sighting read it.
            await runtime.health.checked(result, None)

    results = await check_tenants(
        runtime,
        tenant,
        parallel=runtime.settings.max_parallel_tenants,
        progress=progress,
        after_each=queue,
        only_enabled=only_enabled,
    )
    delivery = await runtime.notifier.deliver(r.tenant_id for r in results) if deliver else None
    return Cycle(results, queued, delivery)
