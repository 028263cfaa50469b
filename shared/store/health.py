"""How each tenant's checks are going, and the timer's own last run: one small row
each in the health table, so the timer's fan-out and the health view read every
tenant with one query instead of one per tenant.

Rows (partition ``tenant``, row key the tenant id): ``FirstEnqueued``,
``LastEnqueued`` (the timer), ``LastChecked``, ``LastStatus``,
``LastSuccess``, ``Mailboxes`` (what the last successful check read: the timer
enqueues the largest first), ``OpenFindings``, ``OpenFindingKinds`` (JSON: kind -> count),
``LastError`` (every check: run_cycle records each tenant's; and an attempt that
failed before it could record, with ``LastFailed``, when that attempt began),
``LastPoisoned`` (the poison function), ``ReportSeen`` (the last check that found the tenant in report mode)
and ``RemediateSince`` (when remediation first planned for it after that: the grace
period never starts before it). Partition ``timer``, row ``check``: ``LastRun``,
``PreviousRun``, ``Enqueued``, ``Due``, ``Overdue``.

Every write is a MERGE of the properties its writer owns, so the timer and the
workers never overwrite each other's columns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TransactionOperation, UpdateMode
from azure.data.tables.aio import TableClient

from shared.core.model import CheckResult, Mode, Status
from shared.store.records import Fields, finding_counts

TENANTS = "tenant"
TIMER = "timer"
TIMER_ROW = "check"
BATCH = 100  # entity-group transaction limit (one partition)
MAX_ERROR_CHARS = 2_000


@dataclass(frozen=True)
class TenantHealthRow:
    tenant: str
    first_enqueued: datetime | None = None
    last_enqueued: datetime | None = None
    last_checked: datetime | None = None
    last_status: Status | None = None
    last_success: datetime | None = None
    mailboxes: int | None = None
    open_findings: int | None = None
    finding_kinds: Mapping[str, int] | None = None  # None: recorded before kinds were kept
    last_error: str | None = None
    last_failed: datetime | None = None
    last_poisoned: datetime | None = None
    report_seen: datetime | None = None
    remediate_since: datetime | None = None

    @classmethod
    def of(cls, entity: Any, table: str) -> TenantHealthRow:
        f = Fields(entity, table)
        status = f.optional_text("LastStatus")
        return cls(
            tenant=f.row,
            first_enqueued=f.optional_moment("FirstEnqueued"),
            last_enqueued=f.optional_moment("LastEnqueued"),
            last_checked=f.optional_moment("LastChecked"),
            last_status=f.choice("LastStatus", Status) if status else None,
            last_success=f.optional_moment("LastSuccess"),
            mailboxes=f.optional_integer("Mailboxes"),
            open_findings=f.optional_integer("OpenFindings"),
            finding_kinds=f.counts("OpenFindingKinds") if entity.get("OpenFindingKinds") else None,
            last_error=f.optional_text("LastError"),
            last_failed=f.optional_moment("LastFailed"),
            last_poisoned=f.optional_moment("LastPoisoned"),
            report_seen=f.optional_moment("ReportSeen"),
            remediate_since=f.optional_moment("RemediateSince"),
        )


@dataclass(frozen=True)
class TimerRow:
    last_run: datetime | None = None
    previous_run: datetime | None = None
    enqueued: int = 0
    due: int = 0
    overdue: int = 0

    @classmethod
    def of(cls, entity: Any, table: str) -> TimerRow:
        f = Fields(entity, table)
        return cls(
            last_run=f.optional_moment("LastRun"),
            previous_run=f.optional_moment("PreviousRun"),
            enqueued=f.integer("Enqueued", 0),
            due=f.integer("Due", 0),
            overdue=f.integer("Overdue", 0),
        )


class HealthStore:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    @property
    def table_name(self) -> str:
        return self._table.table_name

    async def tenants(self) -> dict[str, TenantHealthRow]:
        """Every tenant's row, by tenant id (one query: one partition)."""
        out: dict[str, TenantHealthRow] = {}
        async for entity in self._table.query_entities("PartitionKey eq @pk", parameters={"pk": TENANTS}):
            row = TenantHealthRow.of(entity, self._table.table_name)
            out[row.tenant] = row
        return out

    async def tenant(self, tenant: str) -> TenantHealthRow:
        try:
            entity = await self._table.get_entity(TENANTS, tenant)
        except ResourceNotFoundError:
            return TenantHealthRow(tenant)
        return TenantHealthRow.of(entity, self._table.table_name)

    async def timer(self) -> TimerRow:
        try:
            entity = await self._table.get_entity(TIMER, TIMER_ROW)
        except ResourceNotFoundError:
            return TimerRow()
        return TimerRow.of(entity, self._table.table_name)

    async def enqueued(self, rows: Iterable[TenantHealthRow], at: datetime) -> None:
        """Mark these tenants enqueued at ``at``, 100 to a transaction."""
        ops: list[Any] = []
        for row in rows:
            entity: dict[str, Any] = {"PartitionKey": TENANTS, "RowKey": row.tenant, "LastEnqueued": at}
            if row.first_enqueued is None:
                entity["FirstEnqueued"] = at
            ops.append((TransactionOperation.UPSERT, entity, {"mode": "merge"}))
        for start in range(0, len(ops), BATCH):
            await self._table.submit_transaction(ops[start : start + BATCH])

    async def checked(self, result: CheckResult, open_findings: int | None) -> None:
        """What the check of one tenant found; a success moves LastSuccess."""
        props: dict[str, Any] = {
            "LastChecked": result.checked_at,
            "LastStatus": str(result.status),
            "LastError": (result.error or "")[:MAX_ERROR_CHARS],
        }
        if result.status is not Status.ERROR:
            props["LastSuccess"] = result.checked_at
            props["Mailboxes"] = result.mailboxes_scanned
            props["OpenFindings"] = open_findings if open_findings is not None else len(result.findings)
            # What is still open after the run's own fixes, by kind (the health view's).
            props["OpenFindingKinds"] = json.dumps(finding_counts(result.findings), sort_keys=True)
        if result.policy is not None and result.policy.mode is Mode.REPORT:
            props["ReportSeen"] = result.checked_at  # a later remediate mode starts its grace anew
        await self._merge(result.tenant_id, **props)

    async def remediating(self, tenant: str, since: datetime) -> None:
        """Remediation began planning for this tenant at ``since``."""
        await self._merge(tenant, RemediateSince=since)

    async def failed(self, tenant: str, error: str, began: datetime) -> None:
        """An attempt that began at ``began`` and failed before it could record a result
        (the host retries it; the poison function reports the last one's error)."""
        await self._merge(tenant, LastError=error[:MAX_ERROR_CHARS], LastFailed=began)

    async def poisoned(self, tenant: str, at: datetime) -> None:
        await self._merge(tenant, LastPoisoned=at)

    async def timer_ran(
        self, at: datetime, previous: TimerRow, *, due: int, enqueued: int, overdue: int
    ) -> None:
        await self._table.upsert_entity(
            {
                "PartitionKey": TIMER,
                "RowKey": TIMER_ROW,
                "LastRun": at,
                "PreviousRun": previous.last_run if previous.last_run is not None else at,
                "Due": due,
                "Enqueued": enqueued,
                "Overdue": overdue,
            },
            mode=UpdateMode.REPLACE,
        )

    async def _merge(self, tenant: str, **props: Any) -> None:
        await self._table.upsert_entity(
            {"PartitionKey": TENANTS, "RowKey": tenant, **props}, mode=UpdateMode.MERGE
        )
