"""The notification outbox in Table Storage: one partition per tenant.

Rows:

* ``head:<stream>``: ``Seq``, ``LastKey``, ``LastAt`` of the stream's latest
  notification, and ``Told`` (held/failed remediation already told, events only);
* ``msg:<stream>:<seq>:<channel>`` (``...:<channel>:ops`` for an operator's copy): one copy to deliver: ``State`` (pending, sent, dead),
  ``Attempts``, ``NextAttempt``, ``LastError``, ``Title``, ``Payload`` (the message as
  JSON text, made and read by the notifier; the store never looks inside), ``Address``
  (webhook app-setting NAME or recipients; never a URL).

Queuing is one entity-group transaction: create the copies (fails if they exist)
and move the head with its ETag (fails if another run moved it first). The run that
loses re-reads the head; if it already holds this notification's key, an
overlapping run queued it and nothing is written twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.core.delivery import LEASE, Channel, State, Stream, Target
from shared.store.records import Fields

log = logging.getLogger(__name__)

# ASCII JSON: 60 KB as UTF-16, under the 64 KB property limit. The notifier fits its
# message to this; the store refuses more rather than cut JSON in half.
MAX_PAYLOAD_CHARS = 30_000
MAX_ERROR_CHARS = 2_000
_RACES = 5


@dataclass(frozen=True)
class Head:
    seq: int = 0
    last_key: str = ""
    last_at: datetime | None = None
    told: frozenset[str] = frozenset()
    etag: str | None = None  # None: the stream has no head row yet

    @classmethod
    def of(cls, entity: Any, table: str = "outbox") -> Head:
        fields = Fields(entity, table)
        return cls(
            seq=fields.integer("Seq", 0),
            last_key=fields.text("LastKey", ""),
            last_at=fields.optional_moment("LastAt"),
            told=frozenset(fields.text("Told", "").split()),
            etag=entity.metadata["etag"],
        )


@dataclass(frozen=True)
class OutboxRow:
    tenant: str
    row_key: str
    channel: Channel
    address: str
    stream: str
    title: str
    payload: str
    state: State
    attempts: int
    created_at: datetime
    last_error: str
    etag: str
    maybe_sent: bool = False  # an earlier attempt got no answer: it may have arrived

    @classmethod
    def of(cls, entity: Any, table: str = "outbox") -> OutboxRow:
        fields = Fields(entity, table)
        return cls(
            tenant=fields.tenant,
            row_key=fields.row,
            channel=fields.choice("Channel", Channel),
            address=fields.text("Address", ""),
            stream=fields.text("Stream", ""),
            title=fields.text("Title", ""),
            payload=fields.text("Payload", ""),
            state=fields.choice("State", State),
            attempts=fields.integer("Attempts", 0),
            created_at=fields.moment("CreatedAt"),
            last_error=fields.text("LastError", ""),
            etag=entity.metadata["etag"],
            maybe_sent=bool(fields.optional_boolean("MaybeSent")),
        )


def _head_key(stream: Stream) -> str:
    return f"head:{stream}"


class OutboxStore:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    async def head(self, tenant: str, stream: Stream) -> Head:
        try:
            entity = await self._table.get_entity(tenant, _head_key(stream))
        except ResourceNotFoundError:
            return Head()
        return Head.of(entity, self._table.table_name)

    async def enqueue(
        self,
        tenant: str,
        stream: Stream,
        make_key: Callable[[Head], str],
        title: str,
        payload: str,
        targets: Sequence[Target],
        now: datetime,
        told: frozenset[str] | None = None,
        head: Head | None = None,
    ) -> bool:
        """Queue one copy of ``payload`` (the message as text, ``title`` saying what it
        is) per target; False when it was queued already (by an overlapping run, or by
        an earlier attempt of this one). ``make_key`` gives the idempotency key given
        the head it would follow; ``head`` saves a read when the caller has just read it."""
        if len(payload) > MAX_PAYLOAD_CHARS:
            raise ValueError(
                f"outbox of tenant {tenant}: a payload of {len(payload):,} characters does not fit "
                f"(at most {MAX_PAYLOAD_CHARS:,})"
            )
        head = head or await self.head(tenant, stream)
        for _ in range(_RACES):
            key = make_key(head)
            # Same key: an overlapping run queued it. Same instant: this very run did.
            if head.last_key == key or head.last_at == now:
                return False
            seq = head.seq + 1
            ops: list[Any] = [
                ("create", self._copy(tenant, stream, seq, key, target, title, payload, now))
                for target in targets
            ]
            ops.append(self._head_op(tenant, stream, head, seq=seq, key=key, at=now, told=told))
            try:
                await self._table.submit_transaction(ops)
                return True
            except HttpResponseError as exc:  # TableTransactionError and friends
                if exc.status_code not in (409, 412):
                    raise
                fresh = await self.head(tenant, stream)
                if fresh.last_key == key:
                    return False  # an overlapping run queued this very notification
                head = fresh
        raise RuntimeError(f"outbox of tenant {tenant}: the {stream} head kept moving; not queued")

    async def remember(self, tenant: str, head: Head, told: frozenset[str]) -> None:
        """Keep what remediation held or failed, when there is nothing to send."""
        if told == head.told:
            return
        op = self._head_op(
            tenant, Stream.EVENTS, head, seq=head.seq, key=head.last_key, at=head.last_at, told=told
        )
        try:
            await self._table.submit_transaction([op])
        except HttpResponseError as exc:
            if exc.status_code not in (409, 412):
                raise
            # Another run moved the head first; its memory is as good as ours.

    def _copy(
        self,
        tenant: str,
        stream: Stream,
        seq: int,
        key: str,
        target: Target,
        title: str,
        payload: str,
        now: datetime,
    ) -> dict[str, Any]:
        return {
            "PartitionKey": tenant,
            "RowKey": f"msg:{stream}:{seq:010d}:{target.channel}" + (":ops" if target.ops else ""),
            "Stream": str(stream),
            "Key": key,
            "Channel": str(target.channel),
            "Address": target.address,
            "Title": title,
            "Payload": payload,
            "State": str(State.PENDING),
            "Attempts": 0,
            "CreatedAt": now,
            "NextAttempt": now,
            "Reported": False,
        }

    def _head_op(
        self,
        tenant: str,
        stream: Stream,
        head: Head,
        *,
        seq: int,
        key: str,
        at: datetime | None,
        told: frozenset[str] | None,
    ) -> tuple[Any, ...]:
        entity: dict[str, Any] = {
            "PartitionKey": tenant,
            "RowKey": _head_key(stream),
            "Seq": seq,
            "LastKey": key,
            "Told": " ".join(sorted(head.told if told is None else told)),
        }
        if at is not None:
            entity["LastAt"] = at
        if head.etag is None:
            return ("create", entity)
        return (
            "update",
            entity,
            {"mode": UpdateMode.REPLACE, "etag": head.etag, "match_condition": MatchConditions.IfNotModified},
        )

    # -- delivery ----------------------------------------------------------------------

    async def due(self, tenant: str, now: datetime) -> list[OutboxRow]:
        """Copies waiting to be sent whose time has come, oldest first."""
        rows = self._table.query_entities(
            "PartitionKey eq @pk and State eq @state and NextAttempt le @now",
            parameters={"pk": tenant, "state": str(State.PENDING), "now": now},
        )
        return [OutboxRow.of(entity, self._table.table_name) async for entity in rows]

    async def claim(self, row: OutboxRow, now: datetime) -> OutboxRow | None:
        """Take a copy for one send (ETag-guarded); None if another run took it first."""
        attempts = row.attempts + 1
        try:
            meta = await self._table.update_entity(
                {
                    "PartitionKey": row.tenant,
                    "RowKey": row.row_key,
                    "Attempts": attempts,
                    "NextAttempt": now + LEASE,
                    "LastAttemptAt": now,
                },
                mode=UpdateMode.MERGE,
                etag=row.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except HttpResponseError as exc:
            if exc.status_code in (404, 409, 412):
                return None
            raise
        return replace(row, attempts=attempts, etag=meta["etag"])

    async def _merge(self, row: OutboxRow, **values: Any) -> None:
        """Record an outcome on a row this run claimed: only if nobody has touched it
        since (ETag), so a run whose lease ran out never overwrites another's outcome."""
        try:
            await self._table.update_entity(
                {"PartitionKey": row.tenant, "RowKey": row.row_key, **values},
                mode=UpdateMode.MERGE,
                etag=row.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except HttpResponseError as exc:
            if exc.status_code not in (404, 412):
                raise
            log.warning("tenant %s: outbox row %s changed under this run; its outcome is not recorded here",
                        row.tenant, row.row_key)  # fmt: skip

    async def mark_sent(self, row: OutboxRow, now: datetime) -> None:
        # The payload has done its job; the title stays as the record of what was sent.
        await self._merge(row, State=str(State.SENT), SentAt=now, Payload="", LastError="")

    async def mark_failed(
        self, row: OutboxRow, error: str, next_at: datetime, *, maybe_sent: bool = False
    ) -> None:
        # Once a copy may have arrived it stays so: a later refusal does not undo it.
        await self._merge(
            row,
            LastError=error[:MAX_ERROR_CHARS],
            NextAttempt=next_at,
            MaybeSent=maybe_sent or row.maybe_sent,
        )

    async def mark_dead(self, row: OutboxRow, error: str, now: datetime) -> None:
        await self._merge(row, State=str(State.DEAD), LastError=error[:MAX_ERROR_CHARS], DeadAt=now)

    async def undelivered(self, tenant: str) -> list[OutboxRow]:
        """Dead copies nobody has been told about yet."""
        rows = self._table.query_entities(
            "PartitionKey eq @pk and State eq @state and Reported eq false",
            parameters={"pk": tenant, "state": str(State.DEAD)},
        )
        return [OutboxRow.of(entity, self._table.table_name) async for entity in rows]

    async def mark_reported(self, rows: Iterable[OutboxRow]) -> None:
        for row in rows:
            await self._merge(row, Reported=True)

    async def rows(self, tenant: str) -> list[OutboxRow]:
        """Every copy of a tenant, by stream and age (for troubleshooting and tests)."""
        rows = self._table.query_entities("PartitionKey eq @pk and Channel ne ''", parameters={"pk": tenant})
        return [OutboxRow.of(entity, self._table.table_name) async for entity in rows]
