"""The queue worker: one message, one tenant, the same cycle the CLI runs.

What the Functions host does around it (host.json ``extensions.queues``): it takes
messages a few at a time per instance, runs this once per message, deletes the
message when this returns, makes it visible again ``visibilityTimeout`` later when
this raises or the invocation dies, and moves it to ``<queue>-poison`` once it has
been tried ``maxDequeueCount`` times; ``record_poisoned`` then runs for it.

A check that ends "could not check" (401/403, throttled past every retry, a bad
desired-state row) is an outcome, recorded and told: it returns normally, because
retrying it in a minute would change nothing and tell the same thing again. Only
what stops the check from recording anything (the invocation timed out or died,
storage failed around it) raises, so the host tries again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from enum import StrEnum

from shared.core.fanout import BadMessage, CheckMessage
from shared.core.model import CheckResult, Status
from shared.notify.text import clean
from shared.shell.cycle import run_cycle
from shared.shell.runtime import Runtime
from shared.shell.unchecked import record_could_not_check

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    CHECKED = "checked"
    BUSY = "busy"  # another worker is checking the tenant right now
    DUPLICATE = "duplicate"  # a check that started after this tick already recorded it
    SKIPPED = "skipped"  # no longer monitored, or switched off since it was enqueued
    BAD_MESSAGE = "bad-message"
    POISON_RECORDED = "poison-recorded"


@dataclass(frozen=True)
class Work:
    outcome: Outcome
    tenant: str | None = None
    result: CheckResult | None = None


def _parse(text: str, where: str) -> CheckMessage | None:
    try:
        return CheckMessage.from_text(text)
    except BadMessage as exc:
        # Not ours (or from another release): retrying cannot fix it. Logged, cleaned
        # and clipped, since anyone who can write to the queue chose its text.
        log.error("%s: dropped a message that is not a check message (%s): %r", where, exc, clean(text)[:200])
        return None


async def check_message(runtime: Runtime, text: str, *, dequeue_count: int = 1) -> Work:
    message = _parse(text, "check queue")
    if message is None:
        return Work(Outcome.BAD_MESSAGE)
    tenant = message.tenant
    began = runtime.clock()
    try:
        return await _check(runtime, message, dequeue_count)
    except Exception as exc:
        # The host tries again; the poison function reports the last error if none works.
        try:
            await runtime.health.failed(tenant, f"{type(exc).__name__}: {exc}", began)
        except Exception:
            log.exception("tenant %s: could not record the failed attempt either", tenant)
        raise


async def _check(runtime: Runtime, message: CheckMessage, dequeue_count: int) -> Work:
    tenant = message.tenant
    owner = f"worker-{uuid.uuid4().hex[:12]}"
    async with runtime.check_lease.hold_renewed(tenant, owner, runtime.clock) as got:
        if not got:
            holder = await runtime.check_lease.holder(tenant)
            since = holder.started_at.isoformat() if holder and holder.started_at else "unknown"
            # The running check reads Exchange as it is now and records it; if it dies,
            # its lease runs out within a minute and the next tick enqueues the tenant.
            log.info("tenant %s: already being checked (since %s); this message is done", tenant, since)
            return Work(Outcome.BUSY, tenant)
        row = await runtime.health.tenant(tenant)
        if row.last_checked is not None and row.last_checked >= message.tick:
            log.info(
                "tenant %s: already checked at %s for this tick; duplicate message", tenant, row.last_checked
            )
            return Work(Outcome.DUPLICATE, tenant)
        if dequeue_count > 1:
            log.warning("tenant %s: attempt %d of this check", tenant, dequeue_count)
        cycle = await run_cycle(runtime, tenant, only_enabled=True)
        if not cycle.results:
            log.info("tenant %s: no longer monitored (or switched off) since it was enqueued", tenant)
            return Work(Outcome.SKIPPED, tenant)
        (result,) = cycle.results
    if result.status is Status.ERROR:
        log.error("tenant %s: could not check (recorded and told): %s", tenant, result.error)
    return Work(Outcome.CHECKED, tenant, result)


async def record_poisoned(runtime: Runtime, text: str, *, dequeue_count: int | None = None) -> Work:
    """A check message the host gave up on: record the tenant as could not check, with
    why as far as it is known, and tell its people through the normal events."""
    message = _parse(text, "poison queue")
    if message is None:
        return Work(Outcome.BAD_MESSAGE)
    tenant = message.tenant
    loads = [load for load in await runtime.desired.load(tenant) if load.enabled]
    if not loads:
        log.warning("tenant %s: its check was given up on, but it is no longer monitored", tenant)
        return Work(Outcome.SKIPPED, tenant)
    row = await runtime.health.tenant(tenant)
    tries = f"{dequeue_count} attempts" if dequeue_count else "every attempt"
    reason = (
        f"the check did not finish after {tries} (the function timed out, or its worker stopped "
        f"or failed before recording a result); enqueued {message.tick.isoformat(timespec='seconds')}"
    )
    if row.last_error and row.last_failed and row.last_failed >= message.tick:
        reason += f"; last error: {row.last_error}"
    result = await record_could_not_check(runtime, loads[0], reason, as_check=True)
    await runtime.health.poisoned(tenant, runtime.clock())
    return Work(Outcome.POISON_RECORDED, tenant, result)
