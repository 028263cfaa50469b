"""What people are told about, derived from one check. Pure: no I/O, no clock.

Events come from the run's history diff (findings opened, changed, resolved), the
previous run's status (could not check, recovered) and the remediation outcome
(applied, held, failed). A run that changes nothing yields nothing, except a
reminder once drift (or a failure to check) has gone unanswered for the reminder
interval since the tenant's last notification.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.core.diff import fingerprint
from shared.core.model import (
    Action,
    ActionResult,
    ActionStatus,
    CheckResult,
    Finding,
    RemediationOutcome,
    Status,
)
from shared.store.records import RunRecord


class EventKind(StrEnum):
    DRIFT_OPENED = "drift-opened"
    DRIFT_CHANGED = "drift-changed"
    DRIFT_RESOLVED = "drift-resolved"
    COULD_NOT_CHECK = "could-not-check"
    RECOVERED = "recovered"
    REMINDER = "reminder"
    REMEDIATION_APPLIED = "remediation-applied"
    REMEDIATION_HELD = "remediation-held"
    REMEDIATION_FAILED = "remediation-failed"
    REMEDIATION_STOPPED = "remediation-stopped"  # it could not run at all (lock/audit/storage)


_REMEDIATION = {
    ActionStatus.APPLIED: EventKind.REMEDIATION_APPLIED,
    ActionStatus.HELD: EventKind.REMEDIATION_HELD,
    ActionStatus.FAILED: EventKind.REMEDIATION_FAILED,
}
# Remembered between runs so a hold or failure that repeats every run is told once.
_STICKY = (ActionStatus.HELD, ActionStatus.FAILED)
MAX_REMEMBERED = 2000


@dataclass(frozen=True)
class Event:
    kind: EventKind
    finding: Finding | None = None
    since: datetime | None = None  # when the finding (or the failure to check) began
    action: ActionResult | None = None  # remediation events
    error: str | None = None  # could-not-check
    stopped: str | None = None  # remediation could not run: why (RemediationOutcome.stopped)

    @property
    def identity(self) -> str:
        """What the event is about, stable across runs: never a message or a time,
        so rewording or re-timing cannot make an old event look new."""
        if self.finding is not None:
            return f"{self.kind}|{fingerprint(self.finding)}"
        if self.action is not None:
            return f"{self.kind}|{action_identity(self.action.action)}"
        return str(self.kind)

    @property
    def actionable(self) -> bool:
        # An unused exception is hygiene: the weekly digest tells, not an alert. Hygiene
        # the catalogue marks told_when_opened (an exception Basic auth's end will break)
        # is told once, when it appears; its changes wait for the digest too.
        if self.finding is None or self.finding.kind.is_compliance_failure:
            return True
        return self.kind is EventKind.DRIFT_OPENED and self.finding.kind.rule.told_when_opened


def action_identity(action: Action) -> str:
    parts = (action.kind, action.target.lower(), action.mailbox_guid, action.before, action.after)
    return "|".join(str(p) for p in parts)


STOPPED_MARK = "remediation-stopped"  # kept in the told memory while it keeps stopping


def stopped(outcome: RemediationOutcome | None) -> bool:
    """Remediation could not run at all: no action decided, only why."""
    return outcome is not None and outcome.stopped is not None


def remembered(outcome: RemediationOutcome | None) -> frozenset[str]:
    """The held and failed actions of a run, as short tokens kept for the next run."""
    if outcome is None:
        return frozenset()
    tokens = sorted(_token(r) for r in outcome.results if r.status in _STICKY)
    return frozenset(tokens[:MAX_REMEMBERED])


def _token(result: ActionResult) -> str:
    text = f"{result.status}|{action_identity(result.action)}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Memory:
    """What the tenant was last told (kept beside its outbox)."""

    last_notified: datetime | None = None
    told: frozenset[str] = frozenset()  # remembered() of the last run that checked


def next_memory(result: CheckResult, memory: Memory) -> frozenset[str]:
    """A run that could not check, or whose remediation could not run, knows nothing
    new about held or failed actions: keep what was told (and that it stopped)."""
    if result.status is Status.ERROR:
        return memory.told
    if stopped(result.remediation):
        return memory.told | {STOPPED_MARK}
    return remembered(result.remediation)


def reminder_due(result: CheckResult, last_notified: datetime | None, every: timedelta | None) -> bool:
    """Drift still open, or still unable to check, and nobody told for ``every``."""
    if every is None:
        return False
    stuck = result.status is Status.DRIFT or (
        result.status is Status.ERROR and result.previous_status is Status.ERROR
    )
    return stuck and (last_notified is None or result.checked_at - last_notified >= every)


def needs_first_seen(result: CheckResult, memory: Memory, every: timedelta | None) -> bool:
    """Whether derive() will want the open findings' first-seen times (a table read)."""
    return bool(result.diff and result.diff.changed) or (
        result.status is Status.DRIFT and reminder_due(result, memory.last_notified, every)
    )


def derive(
    result: CheckResult,
    memory: Memory,
    *,
    first_seen: Mapping[str, datetime],
    remind_every: timedelta | None,
    error_since: datetime | None = None,
) -> tuple[Event, ...]:
    """The events of one tenant's run; empty when there is nothing to tell.

    ``first_seen`` maps Finding.key to when it was first seen (for "since when");
    ``error_since`` is when the current run of failures to check began."""
    now = result.checked_at
    events: list[Event] = []
    if result.status is Status.ERROR:
        if result.previous_status is not Status.ERROR:
            events.append(Event(EventKind.COULD_NOT_CHECK, since=now, error=result.error))
    elif result.previous_status is Status.ERROR:
        events.append(Event(EventKind.RECOVERED, since=now))
    diff = result.diff
    if diff is not None:
        events += [Event(EventKind.DRIFT_OPENED, f, since=now) for f in diff.opened]
        events += [Event(EventKind.DRIFT_CHANGED, f, since=first_seen.get(f.key)) for f in diff.changed]
        events += [Event(EventKind.DRIFT_RESOLVED, f) for f in diff.resolved]
    events += _remediation(result.remediation, memory.told)
    if any(e.actionable for e in events):
        return tuple(events)

    if not reminder_due(result, memory.last_notified, remind_every):
        return ()
    if result.status is Status.ERROR:
        return (Event(EventKind.REMINDER, since=error_since, error=result.error),)
    if memory.last_notified is None and remind_every is not None:
        # Nobody was ever told about this tenant: remind only of drift that has been
        # open for the interval (an overlapping run may be about to say "found").
        oldest = min((first_seen[f.key] for f in result.findings if f.key in first_seen), default=None)
        if oldest is None or now - oldest < remind_every:
            return ()
    still = [
        Event(EventKind.REMINDER, f, since=first_seen.get(f.key))
        for f in result.findings
        if f.kind.is_compliance_failure
    ]
    # Held and failed remediation explain why the drift is still there.
    return (*still, *_remediation(result.remediation, frozenset(), sticky_only=True))


def _remediation(
    outcome: RemediationOutcome | None, told: frozenset[str], *, sticky_only: bool = False
) -> Iterable[Event]:
    """Applied always (a change was made); held and failed once, until they change."""
    if outcome is None:
        return []
    if stopped(outcome):
        # Told once while it keeps stopping; a run that gets going again forgets it.
        return (
            []
            if STOPPED_MARK in told or sticky_only
            else [Event(EventKind.REMEDIATION_STOPPED, stopped=outcome.stopped)]
        )
    out = []
    for r in outcome.results:
        kind = _REMEDIATION.get(r.status)
        if kind is None or (sticky_only and r.status not in _STICKY):
            continue
        if r.status in _STICKY and _token(r) in told:
            continue
        out.append(Event(kind, action=r))
    return out


def failing_since(runs: Iterable[RunRecord]) -> datetime | None:
    """When the current streak of could-not-check runs began (``runs`` newest first,
    as HistoryStore.runs() gives them); None if the newest run could check."""
    since = None
    for run in runs:
        if run.status is not Status.ERROR:
            break
        since = run.checked_at
    return since
