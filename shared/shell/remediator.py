"""Remediation's I/O: read evidence, take the tenant lock, re-read each target,
write, read back, and audit every decision.

Guard rails kept here:

* runs only on a complete observation (the engine never calls it after a failed read);
* the grace period counts from when the run history first saw each drift (its open
  findings), never from this run alone: a run that cannot read it stops, and
  nothing is written;
* no write without an audit row: the intended actions are recorded before anything
  is written, and every outcome after;
* under the per-tenant lock, the desired state's exceptions are read again (one
  approved since the check is respected) and each target is read again and written
  only if it still has the value the check saw; a failed re-read means no write;
* after writing, the value is read back (retrying briefly for replication lag); a
  change that does not show is a failure, not a success. A write whose answer was
  lost (timeout, failed batch) is judged by that read-back too;
* an earlier run killed between its intent and its outcome is settled first
  (shared.core.interrupted): its targets read again under the lock, never written.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from azure.core.exceptions import AzureError, HttpResponseError

from shared.adapters.tenant_clients import TenantClients
from shared.core.interrupted import LOOKBACK, Settlement, ripe, settle, unsettled
from shared.core.model import (
    Action,
    ActionKind,
    ActionResult,
    ActionStatus,
    Evidence,
    Finding,
    MailboxSetting,
    Observation,
    RemediationOutcome,
    TenantPolicy,
)
from shared.core.policy import ExceptionIndex
from shared.core.remediation import (
    actions_for,
    needs_evidence,
    plan,
    remediation_start,
    takes_smtp_auth_away,
)
from shared.store.audit import AuditStore
from shared.store.desired import DesiredStateStore
from shared.store.health import HealthStore
from shared.store.lock import TenantLock
from shared.store.records import RecordError
from shared.store.runs import HistoryReader
from shared.store.tables import forget_tables, is_missing_table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifyTimings:
    """Read-back attempts after a write; Exchange may take a moment to show it."""

    attempts: int = 4
    first_delay_s: float = 1.0

    @property
    def budget(self) -> timedelta:
        """The read-back's waits added up (1 + 2 + 4 s by default)."""
        return timedelta(seconds=self.first_delay_s * (2 ** max(self.attempts - 1, 0) - 1))


@dataclass(frozen=True)
class _Written:
    """How a write went: ``refused`` (the service said no, with why) or not; an
    ``unknown`` outcome is settled by the read-back."""

    refused: str | None = None
    unknown: str | None = None
    warnings: tuple[str, ...] = ()  # what Exchange warned when it took the write


def evidence_summary(evidence: Evidence | None, policy: TenantPolicy) -> str:
    """What the audit trail says about the evidence a run decided on."""
    if evidence is None:
        return "not needed: no action turns SMTP AUTH off"
    if evidence.available:
        return f"sign-in logs read: last {evidence.days} days, {len(evidence.sign_ins)} account(s) used SMTP AUTH"
    return f"sign-in logs unavailable ({evidence.problem}); WhenEvidenceUnavailable={policy.when_evidence_unavailable}"


@dataclass
class Remediator:
    clients: TenantClients  # the engine holds the tenant's clients (use()) while this runs
    lock: TenantLock
    audit: AuditStore
    desired: DesiredStateStore
    history: HistoryReader  # when each open finding was first seen (the grace period)
    health: HealthStore  # when remediation began for a tenant (the grace period)
    clock: Callable[[], datetime]  # the runtime's, shared with the engine and the notifier
    timings: VerifyTimings = field(default_factory=VerifyTimings)

    async def run(
        self,
        policy: TenantPolicy,
        observed: Observation,
        findings: Sequence[Finding],
        now: datetime,
        *,
        dry_run: bool = False,
    ) -> RemediationOutcome | None:
        """Plan (and unless ``dry_run``, apply and audit) the fixes for one tenant's
        findings; first settle what an earlier, interrupted run left unsettled."""
        tenant = policy.tenant_id
        run_id = uuid.uuid4().hex
        earlier = Settlement() if dry_run else await self._settle(tenant, findings, now, run_id)
        settled = {f.key for f in earlier.fixed}
        actions = actions_for([f for f in findings if f.key not in settled], policy)
        if not actions:
            return _with_earlier(RemediationOutcome(policy.mode), earlier) if earlier else None
        evidence = (
            await self.clients.get(tenant).evidence.read(now, policy.evidence_days)
            if needs_evidence(actions)
            else None
        )
        grace = policy.grace_hours > 0 and any(takes_smtp_auth_away(a) for a in actions)
        first_seen = await self._first_seen(policy) if grace else {}
        since = await self._remediate_since(policy.tenant_id, now, record=not dry_run) if grace else None
        decided = plan(actions, policy, observed, evidence, now, first_seen, since)
        planned, note = decided.results, decided.note
        if dry_run:  # `plan`: says what would happen, and writes nothing anywhere
            return RemediationOutcome(policy.mode, planned, note)
        summary = evidence_summary(evidence, policy)
        attempting = set(decided.planned)
        if attempting:
            # Intent first (held ones included): if the process dies mid-write, the
            # trail still says what was about to happen.
            try:
                await self.audit.append(tenant, run_id, self.clock(), planned, "remediation", summary)
            except AzureError as exc:
                log.error("tenant %s: audit trail unavailable, nothing written: %s", tenant, exc)
                if is_missing_table(exc):
                    forget_tables()  # deleted under the running app: created again next run
                blocked = tuple(
                    ActionResult(
                        r.action, ActionStatus.HELD, f"audit trail unavailable, nothing written ({exc})"
                    )
                    if r.status is ActionStatus.PLANNED
                    else r
                    for r in planned
                )
                return _with_earlier(RemediationOutcome(policy.mode, blocked, note), earlier)
        results = tuple(await self._apply_planned(tenant, planned, run_id))
        # Then the outcome of each attempted action (held ones are already recorded).
        final = [r for r in results if r.action in attempting] if attempting else list(results)
        try:
            await self.audit.append(tenant, run_id, self.clock(), final, "remediation", summary)
        except AzureError as exc:
            # The changes are made: report them even if the trail could not take the outcome.
            log.error("tenant %s: could not record remediation outcomes: %s", tenant, exc)
            note = (note + " " if note else "") + f"The audit trail could not record these outcomes: {exc}"
        return _with_earlier(RemediationOutcome(policy.mode, results, note), earlier)

    async def _settle(
        self, tenant: str, findings: Sequence[Finding], now: datetime, run_id: str
    ) -> Settlement:
        """Settle the intents an interrupted run left without an outcome
        (shared.core.interrupted): read their targets under the lock, record how each
        went. Best effort: whatever fails here leaves them for the next run, and this
        run's own remediation goes on."""
        window = self.lock.lease + self.timings.budget
        try:
            intents = unsettled(await self.audit.intents(tenant, now - LOOKBACK))
            if not intents:
                return Settlement()
            open_findings = {k: o.finding for k, o in (await self.history.open_findings(tenant)).items()}
            reads: dict[Action, bool | str | None] = {}
            if ripe(intents, now, window):
                async with self.lock.hold(tenant, run_id, self.clock()) as got:
                    if got:
                        # Again under the lock: an overlapping run may have settled them.
                        intents = unsettled(await self.audit.intents(tenant, now - LOOKBACK))
                        reads = await self._read(
                            tenant, list({i.action: i for i in ripe(intents, now, window)})
                        )
                        done = settle(
                            intents, reads, open_findings, findings, run_id=run_id, now=now, window=window
                        )
                        if done.trail:
                            await self.audit.settle(tenant, self.clock(), done.trail)
                        return done
            return settle(intents, {}, open_findings, findings, run_id=run_id, now=now, window=window)
        except (AzureError, RecordError) as exc:
            log.warning("tenant %s: could not settle an interrupted run's intents: %s", tenant, exc)
            return Settlement()

    async def _first_seen(self, policy: TenantPolicy) -> dict[str, datetime]:
        """Finding.key -> first seen, from the open findings of the last run that
        could check. A failed read raises: the engine reports remediation as stopped,
        rather than restart every grace from now."""
        found = await self.history.open_findings(policy.tenant_id)
        return {key: item.first_seen for key, item in found.items()}

    async def _remediate_since(self, tenant: str, now: datetime, *, record: bool) -> datetime:
        """When remediation began for the tenant (core.remediation.remediation_start),
        recorded the first time. A failed read raises (remediation stopped); a failed
        record only means the next run starts the grace again: later, never sooner."""
        row = await self.health.tenant(tenant)
        since, new = remediation_start(row.remediate_since, row.report_seen, now)
        if new and record:
            try:
                await self.health.remediating(tenant, since)
            except AzureError as exc:
                log.warning("tenant %s: could not record when remediation began: %s", tenant, exc)
        return since

    async def _apply_planned(
        self, tenant: str, planned: Sequence[ActionResult], run_id: str
    ) -> list[ActionResult]:
        todo = [r.action for r in planned if r.status is ActionStatus.PLANNED]
        if not todo:
            return list(planned)
        async with self.lock.hold(tenant, run_id, self.clock()) as got:
            if not got:
                done = {
                    a: ActionResult(
                        a, ActionStatus.HELD, "another run is remediating this tenant (lock held)"
                    )
                    for a in todo
                }
            else:
                done = await self._apply(tenant, todo)
        # The outcome keeps the plan's due time: when the action was due, for the trail.
        return [
            replace(done[r.action], due=r.due) if r.status is ActionStatus.PLANNED and r.action in done else r
            for r in planned
        ]

    async def _approved_since(self, tenant: str, actions: Sequence[Action]) -> dict[Action, str]:
        """Actions that the desired state, read again now, no longer allows."""
        try:
            loads = await self.desired.load(tenant)
        except AzureError as exc:
            return {a: f"not written: could not re-read the desired state ({exc})" for a in actions}
        load = loads[0] if loads else None
        if load is None or not load.ok or load.policy is None:
            problem = "; ".join(load.errors) if load else "the tenant's rows are gone"
            return {
                a: f"not written: the desired state changed and is not usable now ({problem})"
                for a in actions
            }
        live = ExceptionIndex.live(load.policy.exceptions, self.clock())
        out = {}
        for action in actions:
            # The action names the mailbox the check saw: its GUID and its address.
            target = MailboxSetting(action.mailbox_guid or "", action.target, action.before)
            if action.kind is ActionKind.SET_MAILBOX and live.covers(target):
                out[action] = "not written: an exception for it was approved since the check"
        return out

    async def _apply(self, tenant: str, actions: Sequence[Action]) -> dict[Action, ActionResult]:
        out: dict[Action, ActionResult] = {}
        for action, reason in (await self._approved_since(tenant, actions)).items():
            out[action] = ActionResult(action, ActionStatus.SKIPPED, reason)
        remaining = [a for a in actions if a not in out]
        current = await self._read(tenant, remaining)
        writable = []
        for action in remaining:
            value = current[action]
            if isinstance(value, str):
                out[action] = ActionResult(
                    action, ActionStatus.FAILED, f"not written: could not re-read it ({value})"
                )
            elif value == action.after:
                out[action] = ActionResult(
                    action, ActionStatus.SKIPPED, "already as desired: changed since the check"
                )
            elif value != action.before:
                out[action] = ActionResult(
                    action,
                    ActionStatus.SKIPPED,
                    f"not written: it changed since the check (now {_show(value)})",
                )
            else:
                writable.append(action)
        written = await self._write(tenant, writable)
        to_verify = []
        for action in writable:
            outcome = written[action]
            if outcome.refused is not None:
                out[action] = ActionResult(
                    action, ActionStatus.FAILED, f"the change was refused: {outcome.refused}"
                )
            else:
                to_verify.append(action)
        verified = await self._verify(tenant, to_verify, {a: written[a].unknown for a in to_verify})
        for action, result in verified.items():
            warned = written[action].warnings
            if warned:
                # Kept in the audit row; the reason says it too, for whoever reads the trail.
                log.warning(
                    "tenant %s: Exchange warned on %s %r: %r", tenant, action.kind, action.target, warned
                )
                shown = "; ".join(warned)
                result = replace(result, reason=f"{result.reason}; Exchange warned: {shown}", warnings=warned)
            out[action] = result
        return out

    async def _read(self, tenant: str, actions: Sequence[Action]) -> dict[Action, bool | str | None]:
        """Each target's current value, or the error text of a failed read."""
        out: dict[Action, bool | str | None] = {}
        for action in (a for a in actions if a.kind is ActionKind.SET_ORG):
            try:
                out[action] = await self.clients.get(tenant).exchange.org_smtp_auth_disabled()
            except AzureError as exc:
                out[action] = str(exc)
        mailboxes = [a for a in actions if a.kind is ActionKind.SET_MAILBOX]
        if mailboxes:
            try:
                read = await self.clients.get(tenant).exchange.read_mailboxes(
                    [a.mailbox_guid or "" for a in mailboxes]
                )
            except AzureError as exc:
                read = {a.mailbox_guid or "": str(exc) for a in mailboxes}
            for action in mailboxes:
                value = read[action.mailbox_guid or ""]
                out[action] = value if isinstance(value, str) else value.smtp_auth_disabled
        return out

    async def _write(self, tenant: str, actions: Sequence[Action]) -> dict[Action, _Written]:
        out: dict[Action, _Written] = {}
        for action in (a for a in actions if a.kind is ActionKind.SET_ORG):
            try:
                warned = await self.clients.get(tenant).exchange.set_org_smtp_auth_disabled(
                    bool(action.after)
                )
                out[action] = _Written(warnings=warned)
            except HttpResponseError as exc:
                status = exc.status_code or 0
                # A 4xx is a refusal; anything else may have landed and is settled by reading back.
                out[action] = (
                    _Written(refused=str(exc)) if 400 <= status < 500 else _Written(unknown=str(exc))
                )
            except AzureError as exc:
                out[action] = _Written(unknown=str(exc))
        mailboxes = [a for a in actions if a.kind is ActionKind.SET_MAILBOX]
        if mailboxes:
            items = await self.clients.get(tenant).exchange.set_mailboxes(
                [(a.mailbox_guid or "", a.after) for a in mailboxes]
            )
            for action in mailboxes:
                item = items[action.mailbox_guid or ""]
                if item.unknown:
                    out[action] = _Written(unknown=item.error)
                elif item.error is not None and 400 <= item.status < 500:
                    out[action] = _Written(refused=item.error)
                else:
                    # 2xx, or 5xx: it may still have happened; the read-back decides.
                    out[action] = _Written(unknown=item.error, warnings=item.warnings)
        return out

    async def _verify(
        self, tenant: str, actions: Sequence[Action], unknown: dict[Action, str | None]
    ) -> dict[Action, ActionResult]:
        pending = list(actions)
        out: dict[Action, ActionResult] = {}
        last: dict[Action, bool | str | None] = {}
        delay = self.timings.first_delay_s
        for attempt in range(self.timings.attempts):
            if not pending:
                break
            if attempt:
                await asyncio.sleep(delay)
                delay *= 2
            last = await self._read(tenant, pending)
            for action in list(pending):
                if last[action] == action.after:
                    reason = "done and read back" + (f" (after {attempt + 1} reads)" if attempt else "")
                    if unknown.get(action):
                        reason += f"; the write's own answer was lost ({unknown[action]})"
                    out[action] = ActionResult(action, ActionStatus.APPLIED, reason)
                    pending.remove(action)
        for action in pending:
            value = last.get(action)
            if isinstance(value, str):
                reason = f"written, but could not be verified: {value}"
            else:
                reason = (
                    f"the change did not stick: still {_show(value)} after {self.timings.attempts} reads "
                    f"(expected {_show(action.after)})"
                )
            if unknown.get(action):
                reason += f"; the write's answer was lost ({unknown[action]})"
            out[action] = ActionResult(action, ActionStatus.FAILED, reason)
        return out


def _with_earlier(outcome: RemediationOutcome, earlier: Settlement) -> RemediationOutcome:
    """The outcome with what this run settled of an interrupted one: its applied
    actions first (told as fixed), the findings kept open, and why in the note."""
    note = " ".join(n for n in (earlier.note, outcome.note) if n)
    return replace(
        outcome,
        results=(*earlier.told, *outcome.results),
        note=note,
        settled=earlier.fixed,
        unsettled=earlier.unsettled,
    )


def _show(value: bool | str | None) -> str:
    if isinstance(value, str):
        return f"unreadable ({value})"
    return "$null" if value is None else f"${str(value).lower()}"
