"""The timer's job: decide which tenants are due, put one message per due tenant on
the check queue, and report tenants whose checks stopped arriving (overdue).

No Exchange call happens here: the queue-triggered worker (shared/shell/worker.py)
checks each tenant, on as many instances as the platform gives the queue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.adapters.check_queue import send_checks
from shared.core.fanout import CheckMessage, Overdue, TenantClock, overdue_reason, plan_tick, tick_length
from shared.core.model import TenantLoad
from shared.shell.runtime import Runtime
from shared.shell.unchecked import record_could_not_check
from shared.store.health import TenantHealthRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FanOut:
    tenants: int  # enabled tenants
    due: tuple[str, ...]
    enqueued: tuple[str, ...]
    overdue: tuple[Overdue, ...]


def tenant_clock(load: TenantLoad, row: TenantHealthRow | None) -> TenantClock:
    """What the timer knows of one tenant's checks (the health view reads it too)."""
    policy = load.policy
    row = row or TenantHealthRow(load.tenant_id)
    return TenantClock(
        tenant=load.tenant_id,
        # A tenant whose row cannot be read is enqueued every tick: its check says why.
        interval_minutes=policy.interval_minutes if policy is not None else 0,
        enabled=load.enabled,
        first_enqueued=row.first_enqueued,
        last_enqueued=row.last_enqueued,
        last_checked=row.last_checked,
        last_success=row.last_success,
        mailboxes=row.mailboxes,
    )


async def fan_out(runtime: Runtime) -> FanOut:
    now = runtime.clock()
    loads = {load.tenant_id: load for load in await runtime.desired.load()}
    rows = await runtime.health.tenants()
    timer = await runtime.health.timer()
    tick = tick_length(timer.last_run, now)
    plan = plan_tick((tenant_clock(load, rows.get(t)) for t, load in loads.items()), now, tick)

    # Record the enqueue after the send: a lost write only makes the next tick send
    # again, and the worker drops a message a newer check already covered.
    sent = await send_checks(runtime.check_queue, [CheckMessage(t, now) for t in plan.due])
    sent_ids = tuple(m.tenant for m in sent)
    if len(sent_ids) < len(plan.due):
        missing = sorted(set(plan.due) - set(sent_ids))
        log.error("could not enqueue %d tenant(s), due again next tick: %s", len(missing), ", ".join(missing))
    await runtime.health.enqueued((rows.get(t) or TenantHealthRow(t) for t in sent_ids), now)

    for late in plan.overdue:
        if not late.silent:
            continue  # its checks report (could not check) on their own
        try:
            await record_could_not_check(runtime, loads[late.tenant], overdue_reason(late), as_check=False)
        except Exception:  # one tenant's record never stops the others' or the tick's record
            log.exception("tenant %s: could not record it as overdue", late.tenant)
    await runtime.health.timer_ran(
        now, timer, due=len(plan.due), enqueued=len(sent_ids), overdue=len(plan.overdue)
    )
    enabled = sum(load.enabled for load in loads.values())
    log.info(
        "fan-out: %d of %d enabled tenant(s) due, %d enqueued, %d overdue",
        len(plan.due), enabled, len(sent_ids), len(plan.overdue),
    )  # fmt: skip
    return FanOut(enabled, plan.due, sent_ids, plan.overdue)
