"""An earlier run's remediation that never recorded its outcome, settled. Pure.

Remediation records its intent (``planned`` rows) before it writes and the outcome
of each action after (docs/remediation.md). A run killed in between (the host timed
out, the worker was recycled) leaves intents without an outcome, and perhaps the
write made. The next remediating run settles them:

* an intent younger than the window (the remediation lock's lease plus the
  read-back: the longest a live run takes from its intent to its outcome) may still
  be a live run's: left alone, and the finding it would fix is kept open, neither
  told resolved nor fixed, until a run after the window settles it;
* an older intent whose target now reads as it wanted is **applied** (verified by
  this run's read), and the finding it fixed is reported fixed by remediation, the
  way a run that recorded its own outcome reports it; nothing is written again;
* an older intent whose target does not read as it wanted is **not applied
  (interrupted)**: recorded, never told; the drift goes through remediation's
  guard rails again like any other.

Settling writes only the audit trail (new rows under the interrupted run's id; the
intent row stays as it was).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.core.commands import powershell_value
from shared.core.limits import INTERVAL_MINUTES
from shared.core.model import Action, ActionResult, ActionStatus, Finding

# Intents this old are left unsettled: longer than the longest tenant interval, so a
# tenant checked once a week still settles its last run's.
LOOKBACK = timedelta(minutes=INTERVAL_MINUTES.high) + timedelta(days=1)
# The newest runs with intents that are looked at. Every remediating run settles what
# is older than the window, so an unsettled intent is among the last few.
RUNS_LOOKED_AT = 10


@dataclass(frozen=True)
class TrailRow:
    """What settling needs of one audit row."""

    run_id: str
    at: datetime
    action: Action
    status: ActionStatus
    evidence_checked: str = ""


@dataclass(frozen=True)
class Settled:
    """One intent settled: the audit row to add under the interrupted run's id."""

    run_id: str
    result: ActionResult
    evidence_checked: str


@dataclass(frozen=True)
class Settlement:
    trail: tuple[Settled, ...] = ()  # rows to append to the audit trail
    told: tuple[ActionResult, ...] = ()  # applied, with an open finding: told as fixed
    fixed: tuple[Finding, ...] = ()  # the findings they fixed
    unsettled: tuple[Finding, ...] = ()  # kept open: an intent not settled yet may have fixed them
    note: str = ""

    def __bool__(self) -> bool:
        return bool(self.trail or self.unsettled)


def unsettled(rows: Iterable[TrailRow]) -> list[TrailRow]:
    """The ``planned`` rows whose run recorded no outcome for the same action, oldest first."""
    rows = list(rows)
    done = {(r.run_id, r.action) for r in rows if r.status is not ActionStatus.PLANNED}
    intents = [r for r in rows if r.status is ActionStatus.PLANNED and (r.run_id, r.action) not in done]
    return sorted(intents, key=lambda r: r.at)


def ripe(intents: Iterable[TrailRow], now: datetime, window: timedelta) -> list[TrailRow]:
    """The intents old enough that no live run can still be working on them."""
    return [i for i in intents if now - i.at >= window]


def settle(
    intents: Sequence[TrailRow],
    reads: Mapping[Action, bool | str | None],
    open_findings: Mapping[str, Finding],
    findings: Iterable[Finding],
    *,
    run_id: str,
    now: datetime,
    window: timedelta,
) -> Settlement:
    """How to settle each unsettled intent. ``reads`` holds this run's read of each
    ripe intent's target (text: the read failed); an intent without one (too young,
    not read) stays unsettled. ``open_findings`` are the history's open findings by
    Finding.key, ``findings`` what this run observed."""
    current = {f.key: f for f in findings}
    trail: list[Settled] = []
    told: dict[Action, ActionResult] = {}
    fixed: dict[str, Finding] = {}
    waiting: dict[str, Finding] = {}
    at = f"{now:%Y-%m-%d %H:%M} UTC"
    for intent in intents:
        action, key = intent.action, intent.action.finding_key
        value = reads.get(action, "not read") if now - intent.at >= window else "too young"
        if isinstance(value, str):
            # Maybe fixed by a run still at work (or one this run could not read): the
            # finding is neither resolved nor fixed yet.
            if key in open_findings and key not in current:
                waiting[key] = open_findings[key]
            continue
        if value == action.after:
            reason = (
                f"done by run {intent.run_id}, which was interrupted before it recorded the outcome; "
                f"read back by run {run_id} at {at}: {powershell_value(value)}"
            )
            result = ActionResult(action, ActionStatus.APPLIED, reason)
            finding = current.get(key) or open_findings.get(key)
            if finding is not None and action not in told:
                told[action] = result
                fixed[key] = finding
        else:
            reason = (
                f"not applied (interrupted): run {intent.run_id} stopped before it recorded the outcome, "
                f"and run {run_id}'s read at {at} shows {powershell_value(value)}, not "
                f"{powershell_value(action.after)}; remediation's guard rails decide it again"
            )
            result = ActionResult(action, ActionStatus.FAILED, reason)
        trail.append(Settled(intent.run_id, result, intent.evidence_checked))
    waiting = {k: f for k, f in waiting.items() if k not in fixed}
    note = ""
    if waiting:
        young = [i.at for i in intents if i.action.finding_key in waiting]
        after = max(young, default=now) + window
        note = (
            f"{len(waiting)} change(s) an earlier run began are not settled yet (that run may still "
            f"be working): kept open until a run after {after:%Y-%m-%d %H:%M} UTC reads them."
        )
    return Settlement(
        tuple(trail), tuple(told.values()), tuple(fixed.values()), tuple(waiting.values()), note
    )
