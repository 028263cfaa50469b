"""Settling an interrupted run's intents (shared.core.interrupted): which are
unsettled, which are old enough, and how each is settled and told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.core.interrupted import TrailRow, ripe, settle, unsettled
from shared.core.model import Action, ActionKind, ActionStatus, Finding, FindingKind

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
OLD = NOW - timedelta(hours=1)
YOUNG = NOW - timedelta(minutes=5)
KIND = FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION


def mailbox(n: int) -> Action:
    return Action(ActionKind.SET_MAILBOX, f"user{n}@contoso.com", False, True, KIND, mailbox_guid=f"guid-{n}")


ORG = Action(ActionKind.SET_ORG, "organization", False, True, FindingKind.ORG_SETTING_DRIFT)


def finding(action: Action) -> Finding:
    return Finding(action.finding_kind, action.target, action.before, action.after, "", action.mailbox_guid)


def row(action: Action, status: ActionStatus = ActionStatus.PLANNED, run: str = "r1", at: datetime = OLD):
    return TrailRow(run, at, action, status, "sign-in logs read")


def settled(intents, reads, open_=(), current=()):
    return settle(
        intents,
        reads,
        {f.key: f for f in open_},
        current,
        run_id="now",
        now=NOW,
        window=WINDOW,
    )


def test_an_intent_is_unsettled_until_its_run_or_a_settling_run_records_an_outcome_for_it():
    a, b, c = mailbox(1), mailbox(2), mailbox(3)
    rows = [
        row(a),
        row(a, ActionStatus.APPLIED, at=OLD + timedelta(seconds=5)),
        row(b),
        row(c),
        row(c, ActionStatus.HELD, run="r2"),  # another run's row on the same target settles nothing
        row(b, ActionStatus.HELD, at=OLD + timedelta(seconds=5)),  # the lock was held: an outcome
    ]
    assert [r.action for r in unsettled(rows)] == [c]


def test_only_intents_older_than_the_window_are_ripe():
    old, young = row(mailbox(1)), row(mailbox(2), at=YOUNG)
    assert ripe([old, young], NOW, WINDOW) == [old]
    assert ripe([row(mailbox(1), at=NOW - WINDOW)], NOW, WINDOW) != []  # exactly the window: ripe


def test_a_target_read_as_wanted_is_applied_told_once_and_its_open_finding_fixed():
    a = mailbox(1)
    # Two interrupted runs meant the same change: both settled, told once.
    intents = [row(a), row(a, run="r0", at=OLD - timedelta(hours=1))]
    done = settled(intents, {a: True}, open_=[finding(a)])
    assert [(s.run_id, s.result.status) for s in done.trail] == [
        ("r1", ActionStatus.APPLIED),
        ("r0", ActionStatus.APPLIED),
    ]
    assert all("interrupted" in s.result.reason and "run now" in s.result.reason for s in done.trail)
    assert [r.action for r in done.told] == [a] and done.fixed == (finding(a),)
    assert done.unsettled == () and done.note == ""
    assert done.trail[0].evidence_checked == "sign-in logs read"  # what the intent rested on


def test_applied_without_an_open_finding_is_recorded_never_told():
    # The killed run's own run record said it fixed (its outcome row failed only): told already.
    done = settled([row(ORG)], {ORG: True})
    assert [s.result.status for s in done.trail] == [ActionStatus.APPLIED]
    assert done.told == () and done.fixed == ()


def test_a_target_not_read_as_wanted_is_not_applied_and_never_told():
    a = mailbox(1)
    done = settled([row(a)], {a: False}, open_=[finding(a)], current=[finding(a)])
    (only,) = done.trail
    assert only.result.status is ActionStatus.FAILED
    assert (
        only.result.reason.startswith("not applied (interrupted)")
        and "$false, not $true" in only.result.reason
    )
    assert done.told == () and done.fixed == () and done.unsettled == ()  # the usual guard rails go on


def test_a_young_or_unread_intent_keeps_the_finding_it_may_have_fixed_open():
    young, unread, failed, observed = mailbox(1), mailbox(2), mailbox(3), mailbox(4)
    intents = [row(young, at=YOUNG), row(unread), row(failed), row(observed, at=YOUNG)]
    open_ = [finding(a) for a in (young, unread, failed, observed)]
    # The young one's read is ignored: its run may still be writing.
    done = settled(intents, {young: True, failed: "503"}, open_=open_, current=[finding(observed)])
    assert done.trail == () and done.told == ()
    # Kept open, neither resolved nor fixed; one observed as drift needs no keeping.
    assert [f.target for f in done.unsettled] == [young.target, unread.target, failed.target]
    assert "3 change(s)" in done.note and "12:10 UTC" in done.note  # the young one's window ends
