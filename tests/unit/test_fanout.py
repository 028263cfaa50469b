"""The fan-out's decisions (shared/core/fanout.py): which tenants are due, what a check
message must say, when a tenant is overdue. Pure: plain values, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.core.fanout import (
    BadMessage,
    CheckMessage,
    TenantClock,
    is_due,
    overdue_reason,
    plan_tick,
    tick_length,
)

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
TICK = timedelta(minutes=15)
TENANT = "8f6a3c1e-2b4d-4e5f-9a0b-1c2d3e4f5a6b"


def test_a_message_round_trips_and_names_its_tenant_in_lower_case():
    message = CheckMessage.from_text(CheckMessage(TENANT.upper(), T0).to_text())
    assert message == CheckMessage(TENANT, T0)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "must be JSON"),
        ('{"v": 2, "tenant": "x", "tick": "2026-12-01T09:00:00+00:00"}', '"v": 1'),
        ('{"v": 1, "tick": "2026-12-01T09:00:00+00:00"}', 'name its "tenant"'),
        ('{"v": 1, "tenant": "../etc", "tick": "2026-12-01T09:00:00+00:00"}', "GUID or a domain"),
        (f'{{"v": 1, "tenant": "{TENANT}", "tick": "2026-12-01T09:00:00"}}', "UTC offset"),
        ("x" * 2000, "at most 1024"),
    ],
)
def test_a_bad_message_says_what_is_wrong(text, problem):
    with pytest.raises(BadMessage, match=problem):
        CheckMessage.from_text(text)


def test_every_tick_by_default_and_hourly_at_the_tick_an_hour_on():
    assert is_due(0, T0, T0 + TICK)
    assert is_due(60, None, T0)
    assert not is_due(60, T0, T0 + 3 * TICK)
    assert is_due(60, T0, T0 + 4 * TICK - timedelta(seconds=5))  # a tick a little early
    assert not is_due(60, T0 + timedelta(seconds=20), T0 + 4 * TICK - timedelta(minutes=2))


def test_the_tick_is_the_gap_between_the_timers_runs():
    assert tick_length(None, T0) == timedelta(minutes=15)
    assert tick_length(T0, T0 + timedelta(minutes=5)) == timedelta(minutes=5)
    assert tick_length(T0, T0 + timedelta(days=9)) == timedelta(days=1)


def test_overdue_after_three_of_its_intervals_without_a_success():
    hourly = TenantClock(TENANT, 60, first_enqueued=T0, last_success=T0)
    assert plan_tick([hourly], T0 + timedelta(hours=2, minutes=59), TICK).overdue == ()
    (late,) = plan_tick([hourly], T0 + timedelta(hours=3), TICK).overdue
    assert late.since == T0 + timedelta(hours=3) and late.silent
    assert "not checked successfully for 180 minutes" in overdue_reason(late)


def test_a_tenant_never_checked_is_overdue_counted_from_its_first_enqueue():
    never = TenantClock(TENANT, 0, first_enqueued=T0)
    assert plan_tick([never], T0 + 2 * TICK, TICK).overdue == ()
    assert plan_tick([never], T0 + 3 * TICK, TICK).overdue[0].last_success is None
    assert plan_tick([TenantClock(TENANT)], T0, TICK).overdue == ()  # not enqueued yet


def test_an_interval_shorter_than_the_tick_counts_as_the_tick():
    fast = TenantClock(TENANT, 5, first_enqueued=T0, last_success=T0)
    assert plan_tick([fast], T0 + 2 * TICK, TICK).overdue == ()


def test_checks_that_keep_failing_are_overdue_but_not_silent():
    failing = TenantClock(TENANT, 0, first_enqueued=T0, last_success=T0, last_checked=T0 + 3 * TICK)
    (late,) = plan_tick([failing], T0 + 3 * TICK, TICK).overdue
    assert not late.silent  # its own could-not-check runs tell people already


def test_a_disabled_tenant_is_neither_due_nor_overdue():
    off = TenantClock(TENANT, 0, enabled=False, first_enqueued=T0)
    assert plan_tick([off], T0 + 9 * TICK, TICK) == plan_tick([], T0, TICK)


def test_due_tenants_are_enqueued_largest_first_with_a_tenant_never_read_before_all():
    small = TenantClock("a-small", 0, mailboxes=40)
    large = TenantClock("b-large", 0, mailboxes=90_000)
    new = TenantClock("c-new", 0)
    middle = TenantClock("d-middle", 0, mailboxes=4_000)
    twin = TenantClock("e-small-too", 0, mailboxes=40)
    plan = plan_tick([small, large, new, middle, twin], T0, TICK)
    # A cycle ends when its last check does: the longest ones start first.
    assert plan.due == ("c-new", "b-large", "d-middle", "a-small", "e-small-too")
