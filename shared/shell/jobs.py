"""The jobs the triggers run: the timer's fan-out, the queue worker and its poison
handler, the weekly digest, the health view; and the in-process loop over every tenant (the demo, the
benchmark's baseline, a deployment of one small tenant)."""

from __future__ import annotations

import logging
from typing import Any

from shared.core.model import CheckResult, Status
from shared.notify.dispatch import Delivery
from shared.shell import health_report, worker
from shared.shell.cycle import run_cycle
from shared.shell.monitor import read_view
from shared.shell.runtime import open_runtime
from shared.shell.settings import Settings
from shared.shell.tick import FanOut, fan_out
from shared.shell.watchdog import check_completed

log = logging.getLogger(__name__)


async def scheduled_check(settings: Settings) -> list[CheckResult]:
    """The in-process loop: check every enabled tenant with the managed identity in
    this one call; record each run; queue what changed and send what is due. The
    identity and the tenants' clients stay warm for the next invocation. The timer
    fans out instead (enqueue_due); this is the demo's and the benchmark's baseline."""
    async with open_runtime(settings, keep_warm=True) as runtime:
        cycle = await run_cycle(runtime)
    if cycle.delivery is not None:
        _log_delivery(cycle.delivery)
    results = cycle.results
    drift = sum(r.status is Status.DRIFT for r in results)
    failed = sum(r.status is Status.ERROR for r in results)
    log.info("checked %d tenant(s): %d with drift, %d could not be checked", len(results), drift, failed)
    check_completed(results, "loop")
    return results


async def enqueue_due(settings: Settings) -> FanOut:
    """The timer: one message per due tenant on the check queue; overdue tenants told."""
    async with open_runtime(settings, keep_warm=True) as runtime:
        return await fan_out(runtime)


async def check_queued(settings: Settings, text: str, dequeue_count: int = 1) -> worker.Work:
    """The queue trigger: check the one tenant the message names."""
    async with open_runtime(settings, keep_warm=True) as runtime:
        work = await worker.check_message(runtime, text, dequeue_count=dequeue_count)
    if work.result is not None:  # a busy, duplicate or dropped message checked nothing
        check_completed([work.result], "queue")
    return work


async def record_poisoned(settings: Settings, text: str, dequeue_count: int | None = None) -> worker.Work:
    """The poison-queue trigger: a check given up on is recorded and told."""
    async with open_runtime(settings, keep_warm=True) as runtime:
        return await worker.record_poisoned(runtime, text, dequeue_count=dequeue_count)


async def health_check(settings: Settings | None = None) -> tuple[int, dict[str, Any]]:
    """The HTTP health function's answer: its status code and JSON document. A view
    that cannot be read (a bad setting, storage down) is a 503 too, with no detail in
    the answer (it could name an account or a setting's value): the log has it."""
    try:
        async with open_runtime(settings or Settings.from_env(), keep_warm=True) as runtime:
            view = await read_view(runtime)
    except Exception:
        log.exception("health view: could not read it")
        return health_report.HTTP_UNHEALTHY, health_report.unreadable()
    return health_report.http_status(view), health_report.document(view)


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
