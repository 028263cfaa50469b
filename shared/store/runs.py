"""Run history in Table Storage: one row per run, the open findings of the last
run, and an append-only log of what opened, changed or resolved. Rows are read back
as the typed records of store/records.py.

Writes are O(changes): a run that finds what the last one found writes its run row
and nothing else, however large the tenant.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableErrorCode, TableTransactionError, TransactionOperation
from azure.data.tables.aio import TableClient

from shared.core.basic_auth import BasicAuthPolicy
from shared.core.diff import diff, fingerprint
from shared.core.model import CheckResult, Finding, HistoryDiff, Status
from shared.store.keys import newest_first_key, newest_rows, safe_key
from shared.store.records import FindingEvent, OpenFinding, RunRecord, finding_counts

BATCH = 100  # Table Storage transaction limit (one partition)
MAX_LIST_CHARS = 30_000  # well under the 64 KB property limit


def row_key_for(finding_key: str) -> str:
    return safe_key(finding_key)


class Recorded(NamedTuple):
    diff: HistoryDiff | None
    previous_status: Status | None
    # The run this one was compared with ("" for none): two overlapping runs that
    # compared with the same one tell the same change, and the notifier's key says so.
    previous_run: str


def finding_entity(tenant: str, finding: Finding, first_seen: datetime) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": tenant,
        "RowKey": row_key_for(finding.key),
        "Kind": str(finding.kind),
        "Target": finding.target,
        "MailboxGuid": finding.mailbox_guid or "",
        "Message": finding.message,
        "FirstSeen": first_seen,
        "Fingerprint": fingerprint(finding),
    }
    # Table Storage has no null: an absent property means "no value".
    if finding.actual is not None:
        entity["Actual"] = finding.actual
    if finding.desired is not None:
        entity["Desired"] = finding.desired
    return entity


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "kind": str(finding.kind),
        "mailbox": finding.target,
        "actual": finding.actual,
        "desired": finding.desired,
    }


def _capped_json(items: Sequence[dict[str, Any]]) -> str:
    """A JSON list that fits in one property; the tail is summarised by a count."""
    out: list[dict[str, Any]] = []
    size = 2
    for i, item in enumerate(items):
        text = json.dumps(item)
        if size + len(text) + 64 > MAX_LIST_CHARS:
            out.append({"more": len(items) - i})
            break
        out.append(item)
        size += len(text) + 1
    return json.dumps(out)


def basic_auth_columns(policy: BasicAuthPolicy | None) -> dict[str, Any]:
    """The default authentication policy's say on Basic SMTP AUTH (the digest reads
    it back with RunRecord.basic_auth); nothing when it was not read."""
    if policy is None:
        return {}
    columns: dict[str, Any] = {"BasicAuthRead": policy.read}
    if policy.default_policy is not None:
        columns["DefaultAuthPolicy"] = policy.default_policy[:MAX_LIST_CHARS]
    if policy.allow_smtp is not None:
        columns["AllowBasicAuthSmtp"] = policy.allow_smtp
    if policy.problem:
        columns["BasicAuthProblem"] = policy.problem[:MAX_LIST_CHARS]
    return columns


def run_entity(result: CheckResult, change: HistoryDiff | None) -> dict[str, Any]:
    counts = finding_counts(result.findings)
    entity: dict[str, Any] = {
        "PartitionKey": result.tenant_id,
        "RowKey": newest_first_key(result.checked_at),
        "CheckedAt": result.checked_at,
        "Status": str(result.status),
        "MailboxesScanned": result.mailboxes_scanned,
        "FindingCount": len(result.findings),
        "FindingCounts": json.dumps(counts, sort_keys=True),
    }
    if result.org_actual is not None:
        entity["OrgActual"] = result.org_actual
    if result.org_desired is not None:
        entity["OrgDesired"] = result.org_desired
    if result.error:
        entity["Error"] = result.error[:MAX_LIST_CHARS]
    entity.update(basic_auth_columns(result.basic_auth))
    if change is not None:
        entity.update(
            Opened=len(change.opened),
            Changed=len(change.changed),
            Resolved=len(change.resolved),
            Unchanged=len(change.unchanged),
            Fixed=len(change.fixed),
            Changes=_capped_json(
                [{"change": str(c.change), **_finding_json(c.finding)} for c in change.changes]
            ),
        )
    return entity


class HistoryReader(Protocol):
    """What the notifier reads of the run history; HistoryStore fits it. Kept here, not
    in shared.shell.ports (which re-exports it), so the notifier need not import the shell."""

    async def open_findings(self, tenant: str) -> dict[str, OpenFinding]: ...

    async def runs(self, tenant: str, limit: int = 20) -> list[RunRecord]: ...

    async def last_successful_run(self, tenant: str) -> RunRecord | None: ...


class HistoryStore:
    def __init__(self, runs: TableClient, findings: TableClient, events: TableClient) -> None:
        self._runs = runs
        self._findings = findings
        self._events = events

    async def open_findings(self, tenant: str) -> dict[str, OpenFinding]:
        out: dict[str, OpenFinding] = {}
        async for entity in self._findings.query_entities("PartitionKey eq @pk", parameters={"pk": tenant}):
            found = OpenFinding.of(entity, self._findings.table_name)
            out[found.finding.key] = found
        return out

    async def record(self, result: CheckResult) -> Recorded:
        """Store one run; return its diff with the last successful run, and the status
        and row key of the previous run. A run that could not check leaves the open
        findings alone (diff None): not knowing is not the same as resolved. What the
        run's remediation fixed is not kept open (nor told as resolved next run); what
        an earlier run's unsettled intent may have fixed stays open, unchanged."""
        tenant = result.tenant_id
        last = await self.runs(tenant, 1)
        change: HistoryDiff | None = None
        if result.status is not Status.ERROR:
            previous = await self.open_findings(tenant)
            # Kept only while open: an overlapping run may have settled and closed it since.
            current = (*result.findings, *(f for f in result.unsettled if f.key in previous))
            change = diff({k: v.finding for k, v in previous.items()}, current, result.fixed)
            await self._apply(tenant, change, previous, result.checked_at)
        await self._runs.create_entity(run_entity(result, change))
        if not last:
            return Recorded(change, None, "")  # "": compared with nothing (the first run)
        return Recorded(change, last[0].status, last[0].row_key)

    async def _apply(
        self, tenant: str, change: HistoryDiff, previous: dict[str, OpenFinding], at: datetime
    ) -> None:
        ops: list[TransactionOperation | tuple[Any, ...]] = []
        for finding in change.opened:
            ops.append(
                (TransactionOperation.UPSERT, finding_entity(tenant, finding, at), {"mode": "replace"})
            )
        for finding in change.changed:
            first_seen = previous[finding.key].first_seen
            ops.append(
                (
                    TransactionOperation.UPSERT,
                    finding_entity(tenant, finding, first_seen),
                    {"mode": "replace"},
                )
            )
        # A fixed finding has a row only if it was open before this run.
        gone = [*change.resolved, *(f for f in change.fixed if f.key in previous)]
        for finding in gone:
            ops.append(
                (TransactionOperation.DELETE, {"PartitionKey": tenant, "RowKey": row_key_for(finding.key)})
            )
        await _submit_findings(self._findings, ops)

        events = [
            {
                "PartitionKey": tenant,
                "RowKey": newest_first_key(at, seq),
                "At": at,
                "Change": str(item.change),
                **{
                    k: v
                    for k, v in finding_entity(tenant, item.finding, at).items()
                    if k not in ("PartitionKey", "RowKey")
                },
            }
            for seq, item in enumerate(change.changes)
        ]
        await _submit(self._events, [(TransactionOperation.CREATE, e) for e in events])

    async def runs(self, tenant: str, limit: int = 20) -> list[RunRecord]:
        """The last runs, newest first."""
        table = self._runs.table_name
        return [RunRecord.of(entity, table) for entity in await newest_rows(self._runs, tenant, limit)]

    async def last_successful_run(self, tenant: str) -> RunRecord | None:
        """The newest run that could check (compliant or drift), however old."""
        async for entity in self._runs.query_entities(
            "PartitionKey eq @pk and Status ne @error",
            parameters={"pk": tenant, "error": str(Status.ERROR)},
            results_per_page=1,
        ):
            return RunRecord.of(entity, self._runs.table_name)
        return None

    async def events(self, tenant: str, limit: int = 100) -> list[FindingEvent]:
        """The last finding changes, newest first."""
        table = self._events.table_name
        return [FindingEvent.of(entity, table) for entity in await newest_rows(self._events, tenant, limit)]


async def _submit_findings(table: TableClient, ops: Sequence[Any]) -> None:
    """The open-findings changes of a run. A row this run resolves may be gone already:
    a run that overlapped this one (a CLI check beside the timer) resolved it first.
    A transaction fails whole on one missing row, so then the writes go again as a
    transaction and each delete alone, a missing row being what the delete wanted."""
    try:
        await _submit(table, ops)
    except TableTransactionError as exc:
        if getattr(exc, "error_code", None) != TableErrorCode.RESOURCE_NOT_FOUND:
            raise
        await _submit(table, [op for op in ops if op[0] != TransactionOperation.DELETE])
        for op in ops:
            if op[0] == TransactionOperation.DELETE:
                with suppress(ResourceNotFoundError):
                    await table.delete_entity(op[1]["PartitionKey"], op[1]["RowKey"])


async def _submit(table: TableClient, ops: Iterable[Any]) -> None:
    batch: list[Any] = []
    for op in ops:
        batch.append(op)
        if len(batch) == BATCH:
            await table.submit_transaction(batch)
            batch = []
    if batch:
        await table.submit_transaction(batch)
