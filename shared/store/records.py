"""What the history and audit tables hold, read back as typed, frozen records.

Every row leaves the store through ``Record.of(entity, table)``, which checks each
property it reads: a malformed row (edited by hand, or written by another release)
is a ``RecordError`` naming the table, the row and the property, here at the
boundary, never a KeyError or a wrong type deep in the notifier or the CLI.

Pure: imports only the model, so pure code (notify/events.py) can take these types.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from shared.core.basic_auth import BasicAuthPolicy
from shared.core.interrupted import TrailRow
from shared.core.model import (
    Action,
    ActionKind,
    ActionStatus,
    ChangeKind,
    Finding,
    FindingKind,
    SignInEvidence,
    Status,
)

E = TypeVar("E", bound=StrEnum)


class RecordError(ValueError):
    """A stored row is malformed. The message says which table, row and property."""

    def __init__(self, table: str, tenant: str, row: str, field_name: str | None, problem: str) -> None:
        where = f"table {table!r}, tenant {tenant!r}, row {row!r}"
        if field_name:
            where += f", property {field_name!r}"
        super().__init__(f"{where}: {problem}")
        self.table, self.tenant, self.row, self.field, self.problem = table, tenant, row, field_name, problem


_REQUIRED: Any = object()  # a property every row of its kind has


class Fields:
    """Typed reads of one entity's properties; every failure is a RecordError."""

    def __init__(self, entity: Mapping[str, Any], table: str) -> None:
        self.entity = entity
        self.table = table
        self.tenant = self.text("PartitionKey")
        self.row = self.text("RowKey")

    def error(self, name: str | None, problem: str) -> RecordError:
        tenant, row = str(self.entity.get("PartitionKey", "")), str(self.entity.get("RowKey", ""))
        return RecordError(self.table, tenant, row, name, problem)

    def _get(self, name: str, default: Any) -> Any:
        value = self.entity.get(name, default)
        if value is _REQUIRED:
            raise self.error(name, "is missing")
        return value

    def text(self, name: str, default: Any = _REQUIRED) -> str:
        value = self._get(name, default)
        if not isinstance(value, str):
            raise self.error(name, f"must be text, got {type(value).__name__}")
        return value

    def optional_text(self, name: str) -> str | None:
        """Text, or None when absent or empty (Table Storage has no null)."""
        return self.text(name, "") or None

    def integer(self, name: str, default: Any = _REQUIRED) -> int:
        value = self._get(name, default)
        # The SDK hands back an Int64 property as (value, "Edm.Int64").
        if isinstance(value, tuple) and len(value) == 2 and value[1] == "Edm.Int64":
            value = value[0]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"must be a whole number, got {value!r}")
        return value

    def optional_integer(self, name: str) -> int | None:
        return None if self.entity.get(name) is None else self.integer(name)

    def optional_boolean(self, name: str) -> bool | None:
        value = self.entity.get(name)
        if value is not None and not isinstance(value, bool):
            raise self.error(name, f"must be true or false, got {value!r}")
        return value

    def moment(self, name: str) -> datetime:
        value = self._get(name, _REQUIRED)
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise self.error(name, f"must be a date and time (UTC), got {value!r}")
        return value

    def optional_moment(self, name: str) -> datetime | None:
        return None if self.entity.get(name) is None else self.moment(name)

    def choice(self, name: str, kind: type[E]) -> E:
        value = self.text(name)
        try:
            return kind(value)
        except ValueError:
            options = ", ".join(repr(str(k)) for k in kind)
            raise self.error(name, f"must be one of {options}, got {value!r}") from None

    def json(self, name: str, default: str) -> Any:
        text = self.text(name, default)
        try:
            return json.loads(text)
        except ValueError as exc:
            raise self.error(name, f"must be JSON ({exc})") from None

    def counts(self, name: str) -> Mapping[str, int]:
        """A JSON object of finding kinds and their counts (``{}`` when absent)."""
        counts = self.json(name, "{}")
        if not isinstance(counts, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in counts.items()
        ):
            raise self.error(name, f"must map finding kinds to counts, got {counts!r}")
        return MappingProxyType(counts)


def finding_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """How many findings of each kind (what ``Fields.counts`` reads back)."""
    counts: dict[str, int] = {}
    for finding in findings:
        counts[str(finding.kind)] = counts.get(str(finding.kind), 0) + 1
    return counts


# -- findings (the open findings table, and each row of the events table) ---------


def read_finding(fields: Fields) -> Finding:
    """The finding properties a findings or events row carries (store/runs.py writes them)."""
    return Finding(
        kind=fields.choice("Kind", FindingKind),
        target=fields.text("Target"),
        mailbox_guid=fields.optional_text("MailboxGuid"),
        actual=fields.optional_boolean("Actual"),
        desired=fields.optional_boolean("Desired"),
        message=fields.text("Message", ""),
    )


@dataclass(frozen=True)
class OpenFinding:
    """A finding still open after the last run that could check, and since when."""

    finding: Finding
    first_seen: datetime

    @classmethod
    def of(cls, entity: Mapping[str, Any], table: str = "findings") -> OpenFinding:
        fields = Fields(entity, table)
        return cls(read_finding(fields), fields.moment("FirstSeen"))


@dataclass(frozen=True)
class FindingEvent:
    """One finding that opened, changed, resolved or was fixed in a run (the events table)."""

    tenant: str
    row_key: str
    at: datetime
    change: ChangeKind
    finding: Finding
    fingerprint: str

    @classmethod
    def of(cls, entity: Mapping[str, Any], table: str = "events") -> FindingEvent:
        fields = Fields(entity, table)
        return cls(
            tenant=fields.tenant,
            row_key=fields.row,
            at=fields.moment("At"),
            change=fields.choice("Change", ChangeKind),
            finding=read_finding(fields),
            fingerprint=fields.text("Fingerprint", ""),
        )


# -- runs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRecord:
    """One recorded run of one tenant.

    ``row_key`` identifies the run (a later run's ``previous_run`` and the
    notification keys refer to it). The counts of what opened, changed, resolved and
    stayed are None for a run that could not check: it compared with nothing.
    """

    tenant: str
    row_key: str
    checked_at: datetime
    status: Status
    mailboxes_scanned: int
    finding_count: int
    finding_counts: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    opened: int | None = None
    changed: int | None = None
    resolved: int | None = None
    unchanged: int | None = None
    fixed: int | None = None  # by the run's own remediation (None also for runs before it was counted)
    org_actual: bool | None = None
    org_desired: bool | None = None
    error: str | None = None
    basic_auth: BasicAuthPolicy | None = None  # None: not read (or a run before it was)

    @classmethod
    def of(cls, entity: Mapping[str, Any], table: str = "runs") -> RunRecord:
        fields = Fields(entity, table)
        return cls(
            tenant=fields.tenant,
            row_key=fields.row,
            checked_at=fields.moment("CheckedAt"),
            status=fields.choice("Status", Status),
            mailboxes_scanned=fields.integer("MailboxesScanned", 0),
            finding_count=fields.integer("FindingCount", 0),
            finding_counts=fields.counts("FindingCounts"),
            opened=fields.optional_integer("Opened"),
            changed=fields.optional_integer("Changed"),
            resolved=fields.optional_integer("Resolved"),
            unchanged=fields.optional_integer("Unchanged"),
            fixed=fields.optional_integer("Fixed"),
            org_actual=fields.optional_boolean("OrgActual"),
            org_desired=fields.optional_boolean("OrgDesired"),
            error=fields.optional_text("Error"),
            basic_auth=_basic_auth(fields),
        )


def _basic_auth(fields: Fields) -> BasicAuthPolicy | None:
    read = fields.optional_boolean("BasicAuthRead")
    if read is None:
        return None
    return BasicAuthPolicy(
        read,
        fields.optional_text("DefaultAuthPolicy"),
        fields.optional_boolean("AllowBasicAuthSmtp"),
        fields.optional_text("BasicAuthProblem") or "",
    )


# -- audit -----------------------------------------------------------------------------

# Audit rows keep Before/After as text, not Booleans: "null" (follow the org) must
# survive the round trip, and Table Storage has no null.
_SETTINGS: dict[str, bool | None] = {"true": True, "false": False, "null": None}


def setting_text(value: bool | None) -> str:
    return "null" if value is None else str(value).lower()


def _evidence(fields: Fields) -> tuple[SignInEvidence, ...]:
    items = fields.json("Evidence", "[]")
    try:
        return tuple(
            SignInEvidence(
                user=str(item["user"]),
                at=datetime.fromisoformat(item["at"]),
                ip_address=str(item.get("ip") or ""),
                app=str(item.get("app") or ""),
                user_id=str(item.get("user_id") or ""),
            )
            for item in items
        )
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise fields.error("Evidence", f"must be a list of sign-ins ({exc!r})") from None


@dataclass(frozen=True)
class AuditRecord:
    """One remediation decision or outcome, as the audit trail recorded it."""

    tenant: str
    row_key: str
    at: datetime
    run_id: str
    source: str  # "remediation", or "settle" for an interrupted run's outcome (`plan` writes none)
    action: ActionKind
    target: str
    mailbox_guid: str | None
    finding: FindingKind
    before: bool | None
    after: bool | None
    status: ActionStatus
    reason: str
    evidence: tuple[SignInEvidence, ...]
    # Whether and how evidence was read: "none found" and "not read" must differ.
    evidence_checked: str
    # What Exchange warned when it took the change (rows written before this was kept: none).
    warnings: tuple[str, ...] = ()

    def trail_row(self) -> TrailRow:
        """What settling an interrupted run needs of the row (shared.core.interrupted)."""
        action = Action(self.action, self.target, self.before, self.after, self.finding, self.mailbox_guid)
        return TrailRow(self.run_id, self.at, action, self.status, self.evidence_checked)

    @classmethod
    def of(cls, entity: Mapping[str, Any], table: str = "audit") -> AuditRecord:
        fields = Fields(entity, table)
        return cls(
            tenant=fields.tenant,
            row_key=fields.row,
            at=fields.moment("At"),
            run_id=fields.text("RunId"),
            source=fields.text("Source"),
            action=fields.choice("Action", ActionKind),
            target=fields.text("Target"),
            mailbox_guid=fields.optional_text("MailboxGuid"),
            finding=fields.choice("Finding", FindingKind),
            before=_setting(fields, "Before"),
            after=_setting(fields, "After"),
            status=fields.choice("Status", ActionStatus),
            reason=fields.text("Reason", ""),
            evidence=_evidence(fields),
            evidence_checked=fields.text("EvidenceChecked", ""),
            warnings=_warnings(fields),
        )


def _warnings(fields: Fields) -> tuple[str, ...]:
    items = fields.json("Warnings", "[]")
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise fields.error("Warnings", "must be a JSON list of texts")
    return tuple(items)


def _setting(fields: Fields, name: str) -> bool | None:
    text = fields.text(name)
    if text not in _SETTINGS:
        raise fields.error(name, f"must be 'true', 'false' or 'null', got {text!r}")
    return _SETTINGS[text]
