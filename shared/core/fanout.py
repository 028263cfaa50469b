"""Fan-out decisions: which tenants are due, what a check message says, when a
tenant is overdue. Pure: no I/O, no clock (now is passed in).

The timer decides and enqueues (shared/shell/tick.py); the platform runs the
queue-triggered worker on as many instances as the queue needs. Nothing here
schedules work beyond "is this tenant due at this tick".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.core.limits import OVERDUE_INTERVALS
from shared.core.validation import ValidationError, check_tenant_id

# The timer fires on its schedule, give or take a few seconds: a tenant checked
# hourly is due at the tick about an hour after its last one, not 15 minutes later.
TICK_TOLERANCE = timedelta(minutes=1)
# Until the timer has run twice, the tick it assumes (the default schedule's).
DEFAULT_TICK = timedelta(minutes=15)
MESSAGE_VERSION = 1
MAX_MESSAGE_CHARS = 1024  # ours are about 120; anything larger is not ours


class BadMessage(ValueError):
    """A queue message that is not a check message; says what is wrong with it."""


@dataclass(frozen=True)
class CheckMessage:
    """One tenant to check, for the tick that found it due."""

    tenant: str
    tick: datetime  # when the timer enqueued it: a check that started later covers it

    def to_text(self) -> str:
        return json.dumps(
            {"v": MESSAGE_VERSION, "tenant": self.tenant, "tick": self.tick.isoformat()}, sort_keys=True
        )

    @classmethod
    def from_text(cls, text: str) -> CheckMessage:
        if len(text) > MAX_MESSAGE_CHARS:
            raise BadMessage(f"a check message is at most {MAX_MESSAGE_CHARS} characters, got {len(text)}")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BadMessage(f"a check message must be JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("v") != MESSAGE_VERSION:
            raise BadMessage(f'a check message must be a JSON object with "v": {MESSAGE_VERSION}')
        tenant, tick = data.get("tenant"), data.get("tick")
        if not isinstance(tenant, str):
            raise BadMessage('a check message must name its "tenant"')
        try:
            tenant = check_tenant_id(tenant)
        except ValidationError as exc:
            raise BadMessage(f'"tenant" {exc}') from None
        try:
            when = datetime.fromisoformat(tick) if isinstance(tick, str) else None
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise BadMessage(f'"tick" must be a date and time with its UTC offset, got {tick!r}')
        return cls(tenant, when)


def interval_of(interval_minutes: int, tick: timedelta) -> timedelta:
    """A tenant's effective interval: its own, but never shorter than the timer's tick
    (0 means "every tick")."""
    return max(timedelta(minutes=interval_minutes), tick)


def is_due(interval_minutes: int, last_enqueued: datetime | None, now: datetime) -> bool:
    """Due at this tick: never enqueued, interval 0 (every tick), or the interval has
    passed since it was last enqueued (within the tick's tolerance)."""
    if last_enqueued is None or interval_minutes <= 0:
        return True
    return now - last_enqueued >= timedelta(minutes=interval_minutes) - TICK_TOLERANCE


def tick_length(previous_run: datetime | None, last_run: datetime | None) -> timedelta:
    """The timer's tick, as the gap between its last two runs; the default until then.
    A run that was late (a stopped app) would make the gap look longer: at most a day."""
    if previous_run is None or last_run is None or last_run <= previous_run:
        return DEFAULT_TICK
    return min(last_run - previous_run, timedelta(days=1))


def overdue_after(interval_minutes: int, tick: timedelta) -> timedelta:
    return OVERDUE_INTERVALS * interval_of(interval_minutes, tick)


def overdue_since(
    interval_minutes: int,
    tick: timedelta,
    *,
    last_success: datetime | None,
    monitored_since: datetime | None,
    now: datetime,
) -> datetime | None:
    """When the tenant became overdue (None: it is not): no successful check for
    OVERDUE_INTERVALS of its intervals, counted from its last success, or from when
    it was first enqueued if it never had one. Whether its messages ran, failed or
    never arrived makes no difference: only a recorded success counts."""
    start = last_success or monitored_since
    if start is None:
        return None  # never enqueued yet: the first tick will
    limit = start + overdue_after(interval_minutes, tick)
    return limit if now >= limit else None


@dataclass(frozen=True)
class TenantClock:
    """What the fan-out knows of one tenant's checks (from its health row)."""

    tenant: str
    interval_minutes: int = 0
    enabled: bool = True
    first_enqueued: datetime | None = None
    last_enqueued: datetime | None = None
    last_checked: datetime | None = None  # any recorded outcome, could-not-check too
    last_success: datetime | None = None
    mailboxes: int | None = None  # what its last successful check read; None: never read


@dataclass(frozen=True)
class Overdue:
    tenant: str
    since: datetime  # when it became overdue
    last_success: datetime | None
    limit: timedelta  # the overdue window (OVERDUE_INTERVALS intervals)
    # True when nothing at all was recorded for the window (no could-not-check either):
    # only then is the overdue run recorded, or a tenant whose checks keep saying
    # "could not check" would be told twice every tick.
    silent: bool


@dataclass(frozen=True)
class TickPlan:
    due: tuple[str, ...]
    overdue: tuple[Overdue, ...]


def plan_tick(tenants: Iterable[TenantClock], now: datetime, tick: timedelta) -> TickPlan:
    """Which enabled tenants to enqueue at this tick, largest first (see
    ``largest_first``), and which are overdue."""
    due: list[TenantClock] = []
    overdue: list[Overdue] = []
    for t in tenants:
        if not t.enabled:
            continue
        if is_due(t.interval_minutes, t.last_enqueued, now):
            due.append(t)
        since = overdue_since(
            t.interval_minutes, tick, last_success=t.last_success, monitored_since=t.first_enqueued, now=now
        )
        if since is not None:
            limit = overdue_after(t.interval_minutes, tick)
            silent = t.last_checked is None or now - t.last_checked >= limit
            overdue.append(Overdue(t.tenant, since, t.last_success, limit, silent))
    return TickPlan(largest_first(due), tuple(overdue))


def largest_first(tenants: Iterable[TenantClock]) -> tuple[str, ...]:
    """The order to enqueue in: a tenant never read first (its size is unknown, and its
    first check is the one its people wait for), then the largest by mailboxes. The
    workers take messages roughly in this order, so the longest checks start early and
    a cycle does not end waiting on one large tenant that started last. Ties keep
    their order (the rows' order: stable from tick to tick)."""
    return tuple(
        t.tenant for t in sorted(tenants, key=lambda t: (t.mailboxes is not None, -(t.mailboxes or 0)))
    )


def overdue_reason(o: Overdue) -> str:
    """The could-not-check text of an overdue tenant (what people are told)."""
    minutes = int(o.limit.total_seconds() // 60)
    last = o.last_success.isoformat(timespec="minutes") if o.last_success else "never"
    return (
        f"overdue: not checked successfully for {minutes} minutes ({OVERDUE_INTERVALS} of its intervals; "
        f"last success: {last}). Its checks are not arriving or not finishing: look at the check "
        "queue, its poison queue and the worker's logs (docs/operations.md)"
    )
