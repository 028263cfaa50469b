"""The health view: every monitored tenant's state, last check, last success, open
findings and whether it is overdue, and whether the timer itself is late. Pure: no
I/O, no clock (now is passed in). The CLI's ``status`` and the HTTP health function
both render this one view (shared/shell/health_report.py).

Overdue is the fan-out's own rule (``fanout.overdue_since``): the view and the timer
can never disagree on which tenants are overdue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.core.fanout import TenantClock, overdue_after, overdue_since, tick_length
from shared.core.limits import OVERDUE_INTERVALS
from shared.core.model import Status


class HealthState(StrEnum):
    """A tenant's state, from its last recorded check."""

    COMPLIANT = "compliant"
    DRIFT = "drift"
    ERROR = "could-not-check"
    NEVER_CHECKED = "never-checked"
    DISABLED = "disabled"  # switched off in its tenant row: neither checked nor overdue


# The worse state first: the order the view lists tenants in (then by domain).
_ORDER = (HealthState.ERROR, HealthState.DRIFT, HealthState.NEVER_CHECKED, HealthState.COMPLIANT)


@dataclass(frozen=True)
class TenantFacts:
    """What is recorded of one monitored tenant: what the timer knows of its checks
    (``clock``), and what its last checks found."""

    clock: TenantClock
    domain: str | None = None  # None: its tenant row could not be read
    last_status: Status | None = None
    open_findings: int | None = None  # as of the last success
    finding_kinds: Mapping[str, int] | None = None  # None: not recorded (before kinds were kept)
    last_error: str | None = None
    last_poisoned: datetime | None = None

    @property
    def tenant(self) -> str:
        return self.clock.tenant

    @property
    def enabled(self) -> bool:
        return self.clock.enabled


@dataclass(frozen=True)
class TenantHealth:
    facts: TenantFacts
    state: HealthState
    overdue_since: datetime | None  # None: not overdue
    overdue_after: timedelta  # OVERDUE_INTERVALS of its intervals

    @property
    def overdue(self) -> bool:
        return self.overdue_since is not None

    @property
    def healthy(self) -> bool:
        """Nothing to look at: not drifting, not failing, not overdue."""
        return not self.overdue and self.state not in (HealthState.DRIFT, HealthState.ERROR)


@dataclass(frozen=True)
class TimerHealth:
    last_run: datetime | None
    tick: timedelta  # the gap between its last two runs (the default until it ran twice)
    late_after: timedelta  # OVERDUE_INTERVALS ticks
    late: bool
    due: int = 0  # at its last run
    enqueued: int = 0
    overdue: int = 0


@dataclass(frozen=True)
class HealthView:
    at: datetime
    timer: TimerHealth
    tenants: tuple[TenantHealth, ...]

    @property
    def overdue(self) -> tuple[TenantHealth, ...]:
        return tuple(t for t in self.tenants if t.overdue)

    @property
    def monitor_healthy(self) -> bool:
        """The monitor itself works: the timer runs and every tenant's checks arrive.
        What the HTTP function answers 200 for (drift is the product working)."""
        return not self.timer.late and not self.overdue

    @property
    def healthy(self) -> bool:
        """The monitor works and no tenant has drift or failing checks."""
        return self.monitor_healthy and all(t.healthy for t in self.tenants)

    def count(self, state: HealthState) -> int:
        return sum(t.state is state for t in self.tenants)


def tenant_state(facts: TenantFacts) -> HealthState:
    if not facts.enabled:
        return HealthState.DISABLED
    if facts.last_status is None:
        return HealthState.NEVER_CHECKED
    return HealthState(str(facts.last_status))


def timer_health(
    last_run: datetime | None,
    previous_run: datetime | None,
    now: datetime,
    *,
    monitoring: bool,
    due: int = 0,
    enqueued: int = 0,
    overdue: int = 0,
) -> TimerHealth:
    """Late: no run for OVERDUE_INTERVALS of its ticks, or never run while some tenant
    is monitored (a timer that never fires enqueues nobody, so no tenant could ever
    become overdue: only this says so)."""
    tick = tick_length(previous_run, last_run)
    late_after = OVERDUE_INTERVALS * tick
    late = monitoring if last_run is None else now - last_run >= late_after
    return TimerHealth(last_run, tick, late_after, late, due, enqueued, overdue)


def tenant_health(facts: TenantFacts, tick: timedelta, now: datetime) -> TenantHealth:
    c = facts.clock
    since = (
        overdue_since(
            c.interval_minutes, tick, last_success=c.last_success, monitored_since=c.first_enqueued, now=now
        )
        if c.enabled
        else None
    )
    return TenantHealth(facts, tenant_state(facts), since, overdue_after(c.interval_minutes, tick))


def build_view(tenants: Iterable[TenantFacts], timer: TimerHealth, now: datetime) -> HealthView:
    """Every tenant's health, the most urgent first: overdue, then by state, then by domain."""
    rows = [tenant_health(f, timer.tick, now) for f in tenants]

    def order(t: TenantHealth) -> tuple[int, int, str, str]:
        rank = _ORDER.index(t.state) if t.state in _ORDER else len(_ORDER)
        return (not t.overdue, rank, (t.facts.domain or "").lower(), t.facts.tenant)

    return HealthView(now, timer, tuple(sorted(rows, key=order)))
