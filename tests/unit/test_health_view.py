"""The health view's decisions (shared/core/health_view.py) and its two renderings
(shared/shell/health_report.py): plain values, no clock, no storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.core.fanout import TenantClock, plan_tick
from shared.core.health_view import HealthState, TenantFacts, build_view, timer_health
from shared.core.model import Status
from shared.shell import health_report

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
TICK = timedelta(minutes=15)
A = "8f6a3c1e-2b4d-4e5f-9a0b-1c2d3e4f5a6b"
B = "0a6a3c1e-2b4d-4e5f-9a0b-1c2d3e4f5a6b"


def on_time(now: datetime) -> object:
    """A timer that ran a tick ago and a tick before that."""
    return timer_health(now - TICK, now - 2 * TICK, now, monitoring=True)


CLOCK = {"interval_minutes", "enabled", "first_enqueued", "last_enqueued", "last_checked", "last_success"}


def fact(tenant: str = A, domain: str | None = None, **kw) -> TenantFacts:
    clock = TenantClock(tenant, **{k: v for k, v in kw.items() if k in CLOCK})
    return TenantFacts(clock, domain, **{k: v for k, v in kw.items() if k not in CLOCK})


def checked(status: Status, at: datetime = T0, **kw) -> TenantFacts:
    success = at if status is not Status.ERROR else None
    kw = {"last_success": success, **kw}
    return fact(A, "a.onmicrosoft.com", first_enqueued=T0, last_checked=at, last_status=status, **kw)


@pytest.mark.parametrize(
    ("facts", "state"),
    [
        (fact(), HealthState.NEVER_CHECKED),
        (checked(Status.COMPLIANT), HealthState.COMPLIANT),
        (checked(Status.DRIFT), HealthState.DRIFT),
        (checked(Status.ERROR), HealthState.ERROR),
        (fact(enabled=False, last_status=Status.DRIFT), HealthState.DISABLED),
    ],
)
def test_a_tenants_state_is_its_last_recorded_check(facts, state):
    (tenant,) = build_view([facts], on_time(T0), T0).tenants
    assert tenant.state is state


@pytest.mark.parametrize(
    "clock",
    [
        TenantClock(A, 60, first_enqueued=T0, last_success=T0),
        TenantClock(A, 0, first_enqueued=T0),
        TenantClock(A, 5, first_enqueued=T0, last_success=T0 + TICK),
        TenantClock(A, 0, enabled=False, first_enqueued=T0),
    ],
)
def test_the_view_is_overdue_exactly_when_the_timer_says_so(clock):
    facts = TenantFacts(clock)
    for minutes in range(0, 4 * 60, 5):
        now = T0 + timedelta(minutes=minutes)
        timer = timer_health(now - TICK, now - 2 * TICK, now, monitoring=True)
        (tenant,) = build_view([facts], timer, now).tenants
        told = plan_tick([clock], now, TICK).overdue
        assert tenant.overdue_since == (told[0].since if told else None), minutes


def test_the_timer_is_late_after_three_of_its_ticks_or_when_it_never_ran():
    assert not timer_health(T0, T0 - TICK, T0 + 3 * TICK - timedelta(seconds=1), monitoring=True).late
    assert timer_health(T0, T0 - TICK, T0 + 3 * TICK, monitoring=True).late
    hourly = timer_health(T0, T0 - timedelta(hours=1), T0 + timedelta(hours=2), monitoring=True)
    assert not hourly.late and hourly.late_after == timedelta(hours=3)
    assert timer_health(None, None, T0, monitoring=True).late  # nothing was ever enqueued
    assert not timer_health(None, None, T0, monitoring=False).late  # nothing to enqueue


def test_drift_and_failing_checks_are_unhealthy_but_only_a_late_monitor_is_503():
    now = T0 + TICK
    drift = build_view([checked(Status.DRIFT, now)], on_time(now), now)
    assert (health_report.exit_code(drift), health_report.http_status(drift)) == (1, 200)
    failing = build_view([checked(Status.ERROR, now, last_success=now - TICK)], on_time(now), now)
    assert (health_report.exit_code(failing), health_report.http_status(failing)) == (1, 200)
    fine = build_view([checked(Status.COMPLIANT, now), fact(B)], on_time(now), now)
    assert (health_report.exit_code(fine), health_report.http_status(fine)) == (0, 200)

    later = T0 + 3 * TICK
    overdue = build_view([checked(Status.COMPLIANT, T0)], on_time(later), later)
    assert overdue.overdue and (health_report.exit_code(overdue), health_report.http_status(overdue)) == (
        1,
        503,
    )
    stopped = timer_health(T0, T0 - TICK, later, monitoring=True)
    late = build_view([checked(Status.COMPLIANT, later)], stopped, later)
    assert (health_report.exit_code(late), health_report.http_status(late)) == (1, 503)


def test_the_most_urgent_tenant_comes_first():
    now = T0 + 4 * TICK
    facts = [
        fact(B, "b.example", enabled=False),
        checked(Status.COMPLIANT, now),
        fact(
            "1" + A[1:],
            "c.example",
            first_enqueued=T0,
            last_checked=now,
            last_status=Status.DRIFT,
            last_success=now,
        ),
        fact("2" + A[1:], "z.example", first_enqueued=T0, last_status=Status.COMPLIANT, last_success=T0),
        checked(Status.ERROR, now, last_success=now - TICK),
    ]
    view = build_view(facts, on_time(now), now)
    order = [(t.facts.domain, str(t.state), t.overdue) for t in view.tenants]
    assert order == [
        ("z.example", "compliant", True),
        ("a.onmicrosoft.com", "could-not-check", False),
        ("c.example", "drift", False),
        ("a.onmicrosoft.com", "compliant", False),
        ("b.example", "disabled", False),
    ]


NASTY = "no \x1b[2Jaccess\u202e to https://evil.example/\r\nnext"


def test_tenant_text_is_one_clean_line_in_the_table_and_unclickable_in_the_json():
    now = T0 + TICK
    facts = checked(
        Status.ERROR, now, last_success=T0, last_error=NASTY, finding_kinds={"odd\nkind": 1}, open_findings=1
    )
    view = build_view([facts], on_time(now), now)
    doc = health_report.document(view)
    (tenant,) = doc["tenants"]
    assert tenant["last_error"] == "no [2Jaccess to https:\u2060//evil.example/ next"
    assert tenant["open_finding_kinds"] == {"odd kind": 1}
    text = health_report.text(view)
    for bad in ("\x1b", "\u202e", "\r"):
        assert bad not in text
    assert "  - a.onmicrosoft.com: could not check: no [2Jaccess to https://evil.example/ next\n" in text
    assert "1 (odd kind 1)" in text


def test_the_json_says_what_the_timer_did_and_counts_every_state():
    now = T0 + TICK
    timer = timer_health(now - TICK, now - 2 * TICK, now, monitoring=True, due=2, enqueued=1, overdue=0)
    doc = health_report.document(build_view([checked(Status.DRIFT, now), fact(B)], timer, now))
    assert doc["version"] == 1 and doc["exit_code"] == 1 and doc["healthy"] is False
    assert doc["monitor_healthy"] is True
    assert doc["timer"] == {
        "last_run": (now - TICK).isoformat(),
        "tick_minutes": 15,
        "late": False,
        "late_after_minutes": 45,
        "due": 2,
        "enqueued": 1,
        "overdue": 0,
    }
    assert doc["counts"] == {
        "tenants": 2,
        "compliant": 0,
        "drift": 1,
        "could-not-check": 0,
        "never-checked": 1,
        "disabled": 0,
        "overdue": 0,
    }
    assert "Timer: LATE: never run" in health_report.text(
        build_view([fact(A)], timer_health(None, None, now, monitoring=True), now)
    )
