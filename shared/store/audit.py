"""Append-only audit trail of remediation: every action planned, held, applied,
skipped or failed, with time, target, before, after, reason and the evidence used,
and how a later run settled the intents of one that was interrupted (source ``settle``).
Rows are read back as AuditRecord (store/records.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from azure.data.tables import TransactionOperation
from azure.data.tables.aio import TableClient

from shared.core.interrupted import RUNS_LOOKED_AT, Settled, TrailRow
from shared.core.model import ActionResult, ActionStatus
from shared.store.keys import newest_first_key, newest_rows, written_since
from shared.store.records import AuditRecord, setting_text

BATCH = 100
MAX_TEXT = 30_000
REMEDIATION = "remediation"  # the source of a remediating run's rows
SETTLE = "settle"  # the source of the rows that settle an interrupted run's intents
PLANNED = str(ActionStatus.PLANNED)


def _evidence_json(result: ActionResult) -> str:
    """The sign-ins the decision rested on, as JSON that stays valid when trimmed."""
    items = [
        {"user": s.user, "user_id": s.user_id, "at": s.at.isoformat(), "ip": s.ip_address, "app": s.app}
        for s in result.evidence
    ]
    while len(text := json.dumps(items)) > MAX_TEXT:
        items = items[: len(items) // 2]
    return text


def _warnings_json(result: ActionResult) -> str:
    """Exchange's warnings on the change, as JSON that stays valid when trimmed."""
    items = [w[: MAX_TEXT // 4] for w in result.warnings]
    while len(text := json.dumps(items)) > MAX_TEXT:
        items = items[: len(items) // 2]
    return text


def audit_entity(
    tenant: str, run_id: str, at: datetime, seq: int, result: ActionResult, source: str, evidence: str = ""
) -> dict[str, Any]:
    action = result.action
    return {
        "PartitionKey": tenant,
        "RowKey": newest_first_key(at, seq),
        "At": at,
        "RunId": run_id,
        "Source": source,
        "Action": str(action.kind),
        "Target": action.target,
        "MailboxGuid": action.mailbox_guid or "",
        "Finding": str(action.finding_kind),
        # Strings, not Booleans: "null" (follow the org) must survive the round trip.
        "Before": setting_text(action.before),
        "After": setting_text(action.after),
        "Status": str(result.status),
        "Reason": result.reason[:MAX_TEXT],
        "Evidence": _evidence_json(result),
        # What Exchange warned when it took the change (@adminapi.warnings): a JSON list.
        "Warnings": _warnings_json(result),
        # Whether evidence was checked at all: "none found" and "not read" must differ.
        "EvidenceChecked": evidence[:MAX_TEXT],
    }


class AuditStore:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    async def append(
        self,
        tenant: str,
        run_id: str,
        at: datetime,
        results: Sequence[ActionResult],
        source: str,
        evidence: str = "",
    ) -> None:
        await self._create(
            [audit_entity(tenant, run_id, at, i, r, source, evidence) for i, r in enumerate(results)]
        )

    async def settle(self, tenant: str, at: datetime, settled: Sequence[Settled]) -> None:
        """Each interrupted intent's outcome, under its own run's id (source ``settle``)."""
        await self._create(
            [
                audit_entity(tenant, s.run_id, at, i, s.result, SETTLE, s.evidence_checked)
                for i, s in enumerate(settled)
            ]
        )

    async def _create(self, entities: Sequence[dict[str, Any]]) -> None:
        # Only ever create: an audit row is never updated or deleted by the product.
        ops = [(TransactionOperation.CREATE, entity) for entity in entities]
        for start in range(0, len(ops), BATCH):
            await self._table.submit_transaction(ops[start : start + BATCH])

    async def intents(self, tenant: str, since: datetime, runs: int = RUNS_LOOKED_AT) -> list[TrailRow]:
        """The ``planned`` rows of the newest ``runs`` remediation runs since ``since``
        that recorded an intent, and every later row under those runs' ids (their
        outcomes, or a settling run's): what shared.core.interrupted.unsettled needs."""
        table = self._table.table_name
        planned: list[TrailRow] = []
        ids: list[str] = []
        async for entity in self._table.query_entities(
            "PartitionKey eq @pk and RowKey lt @since and Status eq @planned and Source eq @source",
            parameters={
                "pk": tenant,
                "since": written_since(since),
                "planned": PLANNED,
                "source": REMEDIATION,
            },
        ):
            row = AuditRecord.of(entity, table).trail_row()
            if row.run_id not in ids:
                if len(ids) == runs:
                    break
                ids.append(row.run_id)
            planned.append(row)
        if not planned:
            return []
        # At most RUNS_LOOKED_AT run ids: a filter holds at most 15 comparisons. Spaces
        # around each @name: the SDK finds the parameters by splitting on them.
        of_runs = " or ".join(f"RunId eq @r{i}" for i in range(len(ids)))
        later: list[TrailRow] = []
        async for entity in self._table.query_entities(
            f"PartitionKey eq @pk and RowKey lt @since and Status ne @planned and ( {of_runs} )",
            parameters={
                "pk": tenant,
                "since": written_since(min(r.at for r in planned)),
                "planned": PLANNED,
                **{f"r{i}": run for i, run in enumerate(ids)},
            },
        ):
            later.append(AuditRecord.of(entity, table).trail_row())
        return planned + later

    async def list(self, tenant: str, limit: int = 50) -> list[AuditRecord]:
        """The newest audit rows, newest first."""
        table = self._table.table_name
        return [AuditRecord.of(entity, table) for entity in await newest_rows(self._table, tenant, limit)]
