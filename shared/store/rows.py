"""Desired-state rows <-> model values. Pure: rows are read and checked here, I/O
elsewhere.

The schema is documented for admins in docs/desired-state.md. Rows are edited by
hand (Storage Explorer), so every field is checked and every error names the
tenant, the row and the field. What a value must look like, and the limits, come
from shared.core.validation and shared.core.limits, the same as the CLI's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any, TypeVar

from shared.core.limits import (
    DEFAULT_MAILBOX_FIX,
    EVIDENCE_DAYS,
    GRACE_HOURS,
    INTERVAL_MINUTES,
    MAILBOX_FIX,
    MAX_CHANGES_PER_RUN,
    Bounds,
)
from shared.core.model import EvidencePolicy, MailboxException, Mode, Recipients, TenantLoad, TenantPolicy
from shared.core.validation import (
    ValidationError,
    check_address,
    check_app_id,
    check_domain,
    check_tenant_id,
    check_text,
    check_webhook_setting,
    check_whole_number,
    is_address,
    is_guid,
    is_setting_name,
    split_addresses,
)
from shared.store.keys import safe_key

TENANT_ROW = "tenant"
EXCEPTION_PREFIX = "exception:"
MAILBOX_FIX_NAMES = {value: name for name, value in MAILBOX_FIX.items()}
T = TypeVar("T")


class RowError(ValueError):
    """A desired-state row is malformed. The message says where and what."""

    def __init__(self, tenant: str, row: str, field_name: str | None, problem: str):
        where = f"tenant {tenant!r}, row {row!r}" + (f", field {field_name!r}" if field_name else "")
        super().__init__(f"{where}: {problem}")
        self.tenant, self.row, self.field, self.problem = tenant, row, field_name, problem


def exception_row_key(mailbox_guid: str | None, mailbox: str) -> str:
    ident = (mailbox_guid or mailbox).lower()
    return EXCEPTION_PREFIX + safe_key(ident)


# -- field readers -------------------------------------------------------------


class _Row:
    def __init__(self, entity: Mapping[str, Any]):
        self.entity = entity
        self.tenant = str(entity.get("PartitionKey", ""))
        self.row = str(entity.get("RowKey", ""))

    def error(self, field_name: str | None, problem: str) -> RowError:
        return RowError(self.tenant, self.row, field_name, problem)

    def checked(self, field_name: str, check: Callable[[Any], T], value: Any) -> T:
        """``check(value)``; what it refuses becomes this row's error on this field."""
        try:
            return check(value)
        except ValidationError as exc:
            raise self.error(field_name, str(exc)) from None

    def text(self, name: str, *, required: bool, default: str | None = None) -> str | None:
        value = self.entity.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise self.error(name, "is required and missing or empty")
            return default
        if not isinstance(value, str):
            raise self.error(name, f"must be text, got {type(value).__name__}")
        return self.checked(name, check_text, value)

    def boolean(self, name: str, default: bool) -> bool:
        value = self.entity.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        # Storage Explorer makes it easy to type a string where a Boolean was meant.
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise self.error(name, f"must be true or false, got {value!r}")

    def integer(self, name: str, bounds: Bounds) -> int:
        value = self.entity.get(name)
        if value is None or value == "":
            return bounds.default
        return self.checked(name, lambda v: check_whole_number(v, bounds), value)

    def choice(self, name: str, options: Mapping[str, Any], default: str) -> Any:
        text = (self.text(name, required=False, default=default) or default).lower()
        if text not in options:
            raise self.error(name, f"must be one of {', '.join(repr(o) for o in options)}, got {text!r}")
        return options[text]

    def day(self, name: str) -> date:
        value = self.entity.get(name)
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        if value is None or value == "":
            raise self.error(name, "is required (a date, YYYY-MM-DD)")
        raise self.error(name, f"must be a date YYYY-MM-DD, got {value!r}")


# -- rows -> model -----------------------------------------------------------------


def parse_tenant_row(entity: Mapping[str, Any]) -> TenantPolicy:
    row = _Row(entity)
    tenant_id = row.checked("PartitionKey", check_tenant_id, row.tenant)
    domain = row.checked("InitialDomain", check_domain, row.text("InitialDomain", required=True) or "")
    mode_text = (row.text("Mode", required=False, default="report") or "report").lower()
    try:
        mode = Mode(mode_text)
    except ValueError:
        raise row.error("Mode", f"must be 'report' or 'remediate', got {mode_text!r}") from None
    emails = tuple(
        row.checked("NotifyEmail", check_address, address)
        for address in split_addresses(row.text("NotifyEmail", required=False) or "")
    )
    teams = row.text("NotifyTeamsWebhookSetting", required=False)
    if teams is not None:
        teams = row.checked("NotifyTeamsWebhookSetting", check_webhook_setting, teams)
    return TenantPolicy(
        tenant_id=tenant_id,
        initial_domain=domain,
        desired_org_disabled=row.boolean("SmtpClientAuthenticationDisabled", True),
        mode=mode,
        enabled=row.boolean("Enabled", True),
        notify_email=emails,
        notify_teams_setting=teams,
        mailbox_fix_value=row.choice("MailboxFix", MAILBOX_FIX, DEFAULT_MAILBOX_FIX),
        evidence_days=row.integer("EvidenceDays", EVIDENCE_DAYS),
        when_evidence_unavailable=row.choice(
            "WhenEvidenceUnavailable", {p.value: p for p in EvidencePolicy}, EvidencePolicy.HOLD.value
        ),
        max_changes_per_run=row.integer("MaxChangesPerRun", MAX_CHANGES_PER_RUN),
        interval_minutes=row.integer("IntervalMinutes", INTERVAL_MINUTES),
        app_id=_app_id(row),
        grace_hours=row.integer("GraceHours", GRACE_HOURS),
    )


def _app_id(row: _Row) -> str | None:
    text = row.text("AppId", required=False)
    return None if text is None else row.checked("AppId", check_app_id, text)


def parse_exception_row(entity: Mapping[str, Any]) -> MailboxException:
    row = _Row(entity)
    mailbox = row.text("Mailbox", required=True) or ""
    if not is_address(mailbox):
        raise row.error("Mailbox", f"must be the mailbox's primary SMTP address, got {mailbox!r}")
    guid = row.text("MailboxGuid", required=False)
    if guid is not None and not is_guid(guid):
        raise row.error("MailboxGuid", f"must be a GUID, got {guid!r}")
    approver = row.text("Approver", required=True) or ""
    if not is_address(approver):
        raise row.error("Approver", f"must be the approver's email address, got {approver!r}")
    return MailboxException(
        row_key=row.row,
        mailbox=mailbox.lower(),
        mailbox_guid=guid.lower() if guid else None,
        reason=row.text("Reason", required=True) or "",
        approver=approver,
        ticket=row.text("Ticket", required=False),
        expires=row.day("Expires"),
    )


_NOTIFY_FIELDS = ("NotifyEmail", "NotifyTeamsWebhookSetting")


def _parse_tenant_row_for_alerts(entity: Mapping[str, Any]) -> TenantPolicy:
    """parse_tenant_row, but a bad notification field does not silence the tenant:
    the error still makes it "could not check", and the policy keeps whatever
    recipients are valid, so that alert reaches someone."""
    try:
        return parse_tenant_row(entity)
    except RowError as exc:
        if exc.field not in _NOTIFY_FIELDS:
            raise
        salvaged = dict(entity)
        if exc.field == "NotifyEmail":
            parts = split_addresses(str(entity.get("NotifyEmail") or ""))
            salvaged["NotifyEmail"] = ";".join(p for p in parts if is_address(p) and "://" not in p)
        else:
            salvaged.pop(exc.field)
        try:
            policy = parse_tenant_row(salvaged)
        except RowError:
            raise exc from None
        raise _SalvagedRow(exc, policy) from None


class _SalvagedRow(RowError):
    """A tenant row with a bad notification field, and the policy read without it."""

    def __init__(self, error: RowError, policy: TenantPolicy) -> None:
        super().__init__(error.tenant, error.row, error.field, error.problem)
        self.policy = policy


def parse_recipients(entity: Mapping[str, Any]) -> Recipients | None:
    """The tenant row's notification fields, each part kept if it validates, whatever
    the rest of the row holds: a row that cannot be checked must still reach the
    people it names (never used for a check). None: it names nobody valid."""
    raw_email, raw_teams = entity.get("NotifyEmail"), entity.get("NotifyTeamsWebhookSetting")
    parts = split_addresses(raw_email) if isinstance(raw_email, str) else ()
    emails = tuple(p for p in parts if is_address(p))
    teams = raw_teams.strip() if isinstance(raw_teams, str) and is_setting_name(raw_teams.strip()) else None
    return Recipients(emails, teams) if emails or teams else None


def group_policies(entities: Iterable[Mapping[str, Any]]) -> list[TenantLoad]:
    """Validate every row and group them per tenant. A bad row spoils only its tenant."""
    tenants: dict[str, dict[str, Any]] = {}
    for entity in entities:
        key = str(entity.get("PartitionKey", "")).lower()
        slot = tenants.setdefault(key, {"tenant": None, "exceptions": [], "errors": []})
        row_key = str(entity.get("RowKey", ""))
        try:
            if row_key == TENANT_ROW:
                slot["seen_tenant_row"] = True
                slot["recipients"] = parse_recipients(entity)
                slot["tenant"] = _parse_tenant_row_for_alerts(entity)
            elif row_key.startswith(EXCEPTION_PREFIX):
                slot["exceptions"].append(parse_exception_row(entity))
            else:
                raise RowError(
                    key, row_key, "RowKey", f"must be {TENANT_ROW!r} or start with {EXCEPTION_PREFIX!r}"
                )
        except RowError as exc:
            slot["errors"].append(str(exc))
            if isinstance(exc, _SalvagedRow):
                slot["tenant"] = exc.policy
    loads = []
    for tenant_id, slot in sorted(tenants.items()):
        errors = list(slot["errors"])
        policy: TenantPolicy | None = slot["tenant"]
        if not slot.get("seen_tenant_row"):
            errors.append(f"tenant {tenant_id!r}: exception rows but no 'tenant' row")
        exceptions = tuple(slot["exceptions"])
        if policy is not None:
            policy = replace(policy, exceptions=exceptions)
        loads.append(
            TenantLoad(
                tenant_id, policy, tuple(errors), recipients=slot.get("recipients"), exceptions=exceptions
            )
        )
    return loads


# -- model -> rows -----------------------------------------------------------------


def tenant_entity(policy: TenantPolicy) -> dict[str, Any]:
    entity = {
        "PartitionKey": policy.tenant_id,
        "RowKey": TENANT_ROW,
        "InitialDomain": policy.initial_domain,
        "SmtpClientAuthenticationDisabled": policy.desired_org_disabled,
        "Mode": str(policy.mode),
        "Enabled": policy.enabled,
        "NotifyEmail": ";".join(policy.notify_email),
        "NotifyTeamsWebhookSetting": policy.notify_teams_setting or "",
        "MailboxFix": MAILBOX_FIX_NAMES[policy.mailbox_fix_value],
        "EvidenceDays": policy.evidence_days,
        "WhenEvidenceUnavailable": str(policy.when_evidence_unavailable),
        "MaxChangesPerRun": policy.max_changes_per_run,
        "IntervalMinutes": policy.interval_minutes,
        "GraceHours": policy.grace_hours,
    }
    if policy.app_id:
        # Written only when set: the row is merged, so a `tenant add` that does not
        # name an app keeps the one onboarding (or an admin) recorded.
        entity["AppId"] = policy.app_id
    return entity


def exception_entity(tenant_id: str, exc: MailboxException) -> dict[str, Any]:
    return {
        "PartitionKey": tenant_id,
        "RowKey": exc.row_key,
        "Mailbox": exc.mailbox,
        "MailboxGuid": exc.mailbox_guid or "",
        "Reason": exc.reason,
        "Approver": exc.approver,
        "Ticket": exc.ticket or "",
        "Expires": exc.expires.isoformat(),
    }


# -- the write check: what is written is what the loader reads back ------------------

# TenantPolicy field -> the tenant row's column (tenant_entity writes each).
TENANT_COLUMNS = {
    "initial_domain": "InitialDomain",
    "desired_org_disabled": "SmtpClientAuthenticationDisabled",
    "mode": "Mode",
    "enabled": "Enabled",
    "notify_email": "NotifyEmail",
    "notify_teams_setting": "NotifyTeamsWebhookSetting",
    "mailbox_fix_value": "MailboxFix",
    "evidence_days": "EvidenceDays",
    "when_evidence_unavailable": "WhenEvidenceUnavailable",
    "max_changes_per_run": "MaxChangesPerRun",
    "interval_minutes": "IntervalMinutes",
    "grace_hours": "GraceHours",
}


def tenant_column(field_name: str, value: Any) -> Any:
    """One tenant field as tenant_entity writes its column."""
    probe = replace(TenantPolicy("probe", "probe"), **{field_name: value})
    return tenant_entity(probe)[TENANT_COLUMNS[field_name]]


def _same_or_error(row: _Row, written: Any, read: Any, fields: Mapping[str, str]) -> None:
    for field_name, column in fields.items():
        if getattr(written, field_name) != getattr(read, field_name):
            raise row.error(column, "would not read back as given")


def checked_tenant_entity(entity: Mapping[str, Any], intended: Mapping[str, Any]) -> TenantPolicy:
    """The loader's own check on a tenant row about to be written: it must parse, and
    each field in ``intended`` must read back as given. Raises RowError (naming the
    column) instead of letting a write store what the next run would refuse."""
    policy = parse_tenant_row(entity)
    row = _Row(entity)
    for field_name, value in intended.items():
        if getattr(policy, field_name) != value:
            raise row.error(TENANT_COLUMNS.get(field_name), "would not read back as given")
    return policy


def checked_tenant_row(policy: TenantPolicy) -> dict[str, Any]:
    """tenant_entity(policy), checked by the loader (see checked_tenant_entity)."""
    entity = tenant_entity(policy)
    checked_tenant_entity(entity, {name: getattr(policy, name) for name in TENANT_COLUMNS})
    if check_tenant_id(policy.tenant_id) != policy.tenant_id:
        raise RowError(policy.tenant_id, TENANT_ROW, "PartitionKey", "would not read back as given")
    return entity


def checked_exception_row(tenant_id: str, exc: MailboxException) -> dict[str, Any]:
    """exception_entity(), checked by the loader: it parses and reads back equal."""
    entity = exception_entity(tenant_id, exc)
    row = _Row(entity)
    if not row.row.startswith(EXCEPTION_PREFIX):
        raise row.error("RowKey", f"must start with {EXCEPTION_PREFIX!r}")
    read = parse_exception_row(entity)
    if read != exc:
        names = ("mailbox", "mailbox_guid", "reason", "approver", "ticket", "expires")
        columns = ("Mailbox", "MailboxGuid", "Reason", "Approver", "Ticket", "Expires")
        _same_or_error(row, exc, read, dict(zip(names, columns, strict=True)))
        raise row.error(None, "would not read back as given")
    return entity
