"""Read the health view: the desired state (who is monitored, how often) and the
health table (how their checks went, the timer's last run), three queries however
many tenants there are. No Exchange call. The decisions are shared.core.health_view's."""

from __future__ import annotations

from shared.core.health_view import HealthView, TenantFacts, build_view, timer_health
from shared.core.model import TenantLoad
from shared.shell.runtime import Runtime
from shared.shell.tick import tenant_clock
from shared.store.health import TenantHealthRow


def tenant_facts(load: TenantLoad, row: TenantHealthRow | None) -> TenantFacts:
    found = row or TenantHealthRow(load.tenant_id)
    domain = load.policy.initial_domain if load.policy is not None else None
    # In TenantFacts' order: the last status, the open findings (count, by kind), the
    # last error, the last time the host gave up on a check.
    checks = (
        found.last_status,
        found.open_findings,
        found.finding_kinds,
        found.last_error,
        found.last_poisoned,
    )
    return TenantFacts(tenant_clock(load, row), domain, *checks)


async def read_view(runtime: Runtime) -> HealthView:
    loads = await runtime.desired.load()
    rows = await runtime.health.tenants()
    timer = await runtime.health.timer()
    now = runtime.clock()
    facts = [tenant_facts(load, rows.get(load.tenant_id)) for load in loads]
    clock = timer_health(
        timer.last_run,
        timer.previous_run,
        now,
        monitoring=any(f.enabled for f in facts),
        due=timer.due,
        enqueued=timer.enqueued,
        overdue=timer.overdue,
    )
    return build_view(facts, clock, now)
