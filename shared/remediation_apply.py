"""Remediation's I/O: read evidence, take the tenant lock, re-read each target,
write, read back, and audit every decision.

Guard rails kept here:

* runs only on a complete observation (the engine never calls it after a failed read);
* under the per-tenant lock, each target is read again and written only if it still
  has the value the check saw: a concurrent run or an admin may have changed it, and
  a write decided on stale data is never made;
* a failed re-read means no write;
* after writing, the value is read back (retrying briefly for replication lag); a
  change that does not show is a failure, not a success.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from azure.core.exceptions import AzureError

from .evidence import EvidenceReader
from .exchange import ExchangeClient
from .model import (
    Action,
    ActionKind,
    ActionResult,
    ActionStatus,
    Finding,
    Observation,
    RemediationOutcome,
    TenantPolicy,
)
from .remediation import actions_for, needs_evidence, plan
from .store.audit import AuditStore
from .store.lock import TenantLock


@dataclass(frozen=True)
class VerifyTimings:
    """Read-back attempts after a write; Exchange may take a moment to show it."""

    attempts: int = 4
    first_delay_s: float = 1.0


@dataclass
class Remediator:
    exchange: ExchangeClient
    evidence: EvidenceReader
    lock: TenantLock
    audit: AuditStore
    timings: VerifyTimings = VerifyTimings()

    async def run(
        self,
        policy: TenantPolicy,
        observed: Observation,
        findings: Sequence[Finding],
        now: datetime,
        *,
        dry_run: bool = False,
    ) -> RemediationOutcome | None:
        """Plan (and unless ``dry_run``, apply) the fixes for one tenant's findings."""
        actions = actions_for(findings, policy)
        if not actions:
            return None
        evidence = await self.evidence.read(now, policy.evidence_days) if needs_evidence(actions) else None
        planned, note = plan(actions, policy, observed, evidence, now)
        run_id = uuid.uuid4().hex
        results = list(planned)
        if not dry_run:
            results = await self._apply_planned(policy.tenant_id, planned, run_id, now)
        await self.audit.append(policy.tenant_id, run_id, now, results, "plan" if dry_run else "remediation")
        return RemediationOutcome(policy.mode, tuple(results), note)

    async def _apply_planned(
        self, tenant: str, planned: Sequence[ActionResult], run_id: str, now: datetime
    ) -> list[ActionResult]:
        todo = [r.action for r in planned if r.status is ActionStatus.PLANNED]
        if not todo:
            return list(planned)
        async with self.lock.hold(tenant, run_id, now) as got:
            if not got:
                done = {
                    a: ActionResult(
                        a, ActionStatus.HELD, "another run is remediating this tenant (lock held)"
                    )
                    for a in todo
                }
            else:
                done = await self._apply(tenant, todo)
        return [done.get(r.action, r) if r.status is ActionStatus.PLANNED else r for r in planned]

    async def _apply(self, tenant: str, actions: Sequence[Action]) -> dict[Action, ActionResult]:
        out: dict[Action, ActionResult] = {}
        current = await self._read(tenant, actions)
        writable = []
        for action in actions:
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
        write_errors = await self._write(tenant, writable)
        written = []
        for action in writable:
            error = write_errors.get(action)
            if error:
                out[action] = ActionResult(action, ActionStatus.FAILED, f"the change was refused: {error}")
            else:
                written.append(action)
        out.update(await self._verify(tenant, written))
        return out

    async def _read(self, tenant: str, actions: Sequence[Action]) -> dict[Action, bool | str | None]:
        """Each target's current value, or the error text of a failed read."""
        out: dict[Action, bool | str | None] = {}
        org = [a for a in actions if a.kind is ActionKind.SET_ORG]
        mailboxes = [a for a in actions if a.kind is ActionKind.SET_MAILBOX]
        for action in org:
            try:
                out[action] = await self.exchange.org_smtp_auth_disabled(tenant)
            except AzureError as exc:
                out[action] = str(exc)
        if mailboxes:
            try:
                read = await self.exchange.read_mailboxes(tenant, [a.mailbox_guid or "" for a in mailboxes])
            except AzureError as exc:
                read = {a.mailbox_guid or "": str(exc) for a in mailboxes}
            for action in mailboxes:
                value = read[action.mailbox_guid or ""]
                out[action] = value if isinstance(value, str) else value.smtp_auth_disabled
        return out

    async def _write(self, tenant: str, actions: Sequence[Action]) -> dict[Action, str | None]:
        out: dict[Action, str | None] = {}
        for action in (a for a in actions if a.kind is ActionKind.SET_ORG):
            try:
                await self.exchange.set_org_smtp_auth_disabled(tenant, bool(action.after))
                out[action] = None
            except AzureError as exc:
                out[action] = str(exc)
        mailboxes = [a for a in actions if a.kind is ActionKind.SET_MAILBOX]
        if mailboxes:
            try:
                errors = await self.exchange.set_mailboxes(
                    tenant, [(a.mailbox_guid or "", a.after) for a in mailboxes]
                )
            except AzureError as exc:
                errors = {a.mailbox_guid or "": str(exc) for a in mailboxes}
            out.update({a: errors.get(a.mailbox_guid or "") for a in mailboxes})
        return out

    async def _verify(self, tenant: str, actions: Sequence[Action]) -> dict[Action, ActionResult]:
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
                    suffix = f" (after {attempt + 1} reads)" if attempt else ""
                    out[action] = ActionResult(action, ActionStatus.APPLIED, f"done and read back{suffix}")
                    pending.remove(action)
        for action in pending:
            out[action] = ActionResult(
                action,
                ActionStatus.FAILED,
                f"the change did not stick: still {_show(last.get(action))} after "
                f"{self.timings.attempts} reads (expected {_show(action.after)})",
            )
        return out


def _show(value: bool | str | None) -> str:
    if isinstance(value, str):
        return f"unreadable ({value})"
    return "$null" if value is None else f"${str(value).lower()}"
