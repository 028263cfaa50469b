"""Which events a run produces: on change only, reminders, remediation told once."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from shared.core.model import ActionStatus, FindingKind, Status
from shared.notify.events import (
    EventKind,
    Memory,
    derive,
    failing_since,
    needs_first_seen,
    next_memory,
    remembered,
)
from shared.store.records import RunRecord

from .notify_values import NOW, POLICY, action, findings, outcome, result

DAY = timedelta(hours=24)
NEVER_TOLD = Memory()


def kinds(events) -> list[tuple[str, str]]:
    return [
        (str(e.kind), e.finding.target if e.finding else e.action.action.target if e.action else "")
        for e in events
    ]


def run(r, memory=NEVER_TOLD, first_seen=None, every=DAY, error_since=None):
    return derive(r, memory, first_seen=first_seen or {}, remind_every=every, error_since=error_since)


def test_new_drift_is_one_event_per_finding():
    current = findings("a@contoso.com", "b@contoso.com", org_on=True)
    events = run(result(current))
    assert kinds(events) == [
        ("drift-opened", "organization"),
        ("drift-opened", "a@contoso.com"),
        ("drift-opened", "b@contoso.com"),
    ]
    assert all(e.since == NOW for e in events)


def test_a_run_that_changes_nothing_tells_nothing():
    current = findings("a@contoso.com")
    told_an_hour_ago = Memory(last_notified=NOW - timedelta(hours=1))
    assert run(result(current, before=current, previous=Status.DRIFT), told_an_hour_ago) == ()
    assert run(result((), before=())) == ()


def test_more_mailboxes_and_resolved_ones():
    a, b, c = findings("a@contoso.com", "b@contoso.com", "c@contoso.com")
    events = run(result((b, c), before=(a, b), previous=Status.DRIFT))
    assert kinds(events) == [("drift-opened", "c@contoso.com"), ("drift-resolved", "a@contoso.com")]


def test_a_changed_finding_says_since_when_it_was_first_seen():
    (org,) = findings(org_on=True)
    before = replace(org, actual=None)
    first = NOW - timedelta(days=3)
    r = result((org,), before=(before,), previous=Status.DRIFT)
    assert needs_first_seen(r, Memory(NOW), DAY)
    (event,) = run(r, Memory(NOW), first_seen={org.key: first})
    assert (event.kind, event.since) == (EventKind.DRIFT_CHANGED, first)


def test_unused_exceptions_alone_are_left_to_the_digest():
    unused = replace(findings("a@contoso.com")[0], kind=FindingKind.EXCEPTION_UNUSED, desired=None)
    assert run(result((unused,))) == ()
    (drift,) = findings("b@contoso.com")
    assert {e.kind for e in run(result((unused, drift)))} == {EventKind.DRIFT_OPENED}


def test_could_not_check_and_recovered_are_told_on_the_transition_only():
    failed = result(error="HTTP 403: no Exchange role", previous=Status.DRIFT)
    (event,) = run(failed)
    assert (event.kind, event.error) == (EventKind.COULD_NOT_CHECK, "HTTP 403: no Exchange role")
    assert run(replace(failed, previous_status=Status.ERROR), Memory(NOW - timedelta(hours=1))) == ()
    first_ever = result(error="boom", previous=None)
    assert [e.kind for e in run(first_ever)] == [EventKind.COULD_NOT_CHECK]

    current = findings("a@contoso.com")
    back = result(current, before=current, previous=Status.ERROR)
    assert [e.kind for e in run(back, Memory(NOW - timedelta(hours=1)))] == [EventKind.RECOVERED]


def test_open_drift_is_reminded_after_the_interval_since_the_last_notification():
    current = findings("a@contoso.com", org_on=True)
    same = result(current, before=current, previous=Status.DRIFT)
    told = NOW - timedelta(hours=23, minutes=59)
    assert run(same, Memory(told)) == ()
    first = NOW - timedelta(days=2)
    reminder = run(same, Memory(NOW - DAY), first_seen={f.key: first for f in current})
    assert [(e.kind, e.since) for e in reminder] == [(EventKind.REMINDER, first)] * 2
    # Never told (notifications configured after the drift began): remind once the drift
    # has been open for the interval; not for drift younger than that (an overlapping
    # run may be about to say "found").
    assert len(run(same, Memory(None), first_seen={f.key: first for f in current})) == 2
    assert run(same, Memory(None), first_seen={f.key: NOW - timedelta(hours=1) for f in current}) == ()
    assert run(same, Memory(None), every=None) == ()  # reminders off


def test_still_unable_to_check_is_reminded_with_since_when():
    failing = result(error="throttled", previous=Status.ERROR)
    since = NOW - timedelta(days=2)
    (event,) = run(failing, Memory(NOW - DAY), error_since=since)
    assert (event.kind, event.since, event.error) == (EventKind.REMINDER, since, "throttled")


def test_failing_since_reads_the_streak_of_failed_runs():
    def ran(status: Status, hours_ago: int) -> RunRecord:
        return RunRecord("t", f"run{hours_ago}", NOW - timedelta(hours=hours_ago), status, 0, 0)

    runs = [ran(Status.ERROR, 0), ran(Status.ERROR, 1), ran(Status.DRIFT, 2), ran(Status.ERROR, 3)]
    assert failing_since(runs) == NOW - timedelta(hours=1)
    assert failing_since(runs[2:]) is None


def test_remediation_applied_is_always_told_held_and_failed_once():
    org, a, b = findings("a@contoso.com", "b@contoso.com", org_on=True)
    rem = outcome(
        action(org, ActionStatus.APPLIED, "done and read back"),
        action(a, ActionStatus.HELD, "used SMTP AUTH", users=["a@contoso.com"]),
        action(b, ActionStatus.FAILED, "refused"),
        action(b, ActionStatus.SKIPPED, "already as desired"),
    )
    first = result((org, a, b), before=(org, a, b), previous=Status.DRIFT, remediation=rem)
    memory = Memory(NOW - timedelta(hours=1))
    assert {e.kind for e in run(first, memory)} == {
        EventKind.REMEDIATION_APPLIED,
        EventKind.REMEDIATION_HELD,
        EventKind.REMEDIATION_FAILED,
    }
    # Next run: the same hold and failure again; only the applied change is news.
    told = Memory(NOW - timedelta(minutes=15), next_memory(first, memory))
    assert [e.kind for e in run(first, told)] == [EventKind.REMEDIATION_APPLIED]
    # A run that could not check keeps what was told.
    assert next_memory(result(error="x", previous=Status.DRIFT), told) == told.told


def test_a_held_action_that_fails_later_is_news():
    (a,) = findings("a@contoso.com")
    held = outcome(action(a, ActionStatus.HELD, "lock held"))
    failed = outcome(action(a, ActionStatus.FAILED, "refused"))
    r = result((a,), before=(a,), previous=Status.DRIFT)
    memory = Memory(NOW - timedelta(hours=1), remembered(held))
    assert run(replace(r, remediation=held), memory) == ()
    assert [e.kind for e in run(replace(r, remediation=failed), memory)] == [EventKind.REMEDIATION_FAILED]


def test_a_reminder_explains_held_remediation():
    (a,) = findings("a@contoso.com")
    held = outcome(action(a, ActionStatus.HELD, "used SMTP AUTH"))
    r = result((a,), before=(a,), previous=Status.DRIFT, remediation=held)
    events = run(r, Memory(NOW - DAY, remembered(held)))
    assert [e.kind for e in events] == [EventKind.REMINDER, EventKind.REMEDIATION_HELD]


def test_identity_ignores_messages_and_times():
    (a,) = findings("a@contoso.com")
    one = run(result((a,)))[0]
    two = run(result((replace(a, message="reworded"),), at=NOW + DAY))[0]
    assert one.identity == two.identity
    assert one.identity != run(result((replace(a, actual=None),)))[0].identity


def test_policy_without_channels_still_derives():
    # Deciding what to tell does not depend on who listens (dispatch skips those).
    r = result(findings("a@contoso.com"), policy=replace(POLICY, notify_email=(), notify_teams_setting=None))
    assert len(run(r)) == 1


def test_remediation_that_could_not_run_is_told_once_and_keeps_the_holds():
    from shared.core.model import Mode, RemediationOutcome
    from shared.notify.compose import compose
    from shared.notify.events import EventKind, Memory, derive, next_memory

    open_drift = findings("a@contoso.com")
    base = result(open_drift, before=open_drift)  # nothing new about the drift itself
    stopped = replace(base, remediation=RemediationOutcome(Mode.REMEDIATE, stopped="table down"))
    told = frozenset({"held-token"})
    (event,) = derive(stopped, Memory(None, told), first_seen={}, remind_every=None)
    assert event.kind is EventKind.REMEDIATION_STOPPED
    message = compose(stopped, (event,), remind_every=None)
    assert "remediation failed" in message.title.lower()
    assert any("table down" in section.note for section in message.sections)
    remembered = next_memory(stopped, Memory(None, told))
    assert "held-token" in remembered  # the earlier holds are not told again
    assert derive(stopped, Memory(None, remembered), first_seen={}, remind_every=None) == ()


def test_only_the_stopped_field_says_remediation_could_not_run():
    from shared.core.model import Mode, RemediationOutcome
    from shared.notify.events import Memory, derive, next_memory

    open_drift = findings("a@contoso.com")
    base = result(open_drift, before=open_drift)
    # A note is text for people; whatever it says, it never reads as a stop.
    worded = replace(base, remediation=RemediationOutcome(Mode.REMEDIATE, (), "remediation stopped: no"))
    assert derive(worded, Memory(None, frozenset()), first_seen={}, remind_every=None) == ()
    assert next_memory(worded, Memory(None, frozenset({"held-token"}))) == frozenset()
