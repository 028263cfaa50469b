"""The ``usage`` report as a table, a JSON document and CSV. Pure.

Every tenant-supplied string (addresses, policy names, reasons, error texts) is one
clean line (shared.notify.text.one_line) in all three; a CSV cell that a spreadsheet
would read as a formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage return
first) is prefixed with ``'`` (OWASP "CSV Injection"). A tenant whose sign-in logs
could not be read says so in every form, never as "no users".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.core.basic_auth import BASIC_AUTH_OFF, BASIC_AUTH_OFF_SOURCE, BASIC_AUTH_OFF_TEXT
from shared.core.smtp_usage import TenantUsage, UsageRow
from shared.notify.text import MAX_NOTE, one_line
from shared.shell.report import JSON_VERSION, basic_auth_json, line, number, smtp_auth, table

EXIT_OK, EXIT_INCOMPLETE = 0, 2
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "tenant",
    "domain",
    "user",
    "user_id",
    "sign_ins",
    "first_seen",
    "last_seen",
    "client_ips",
    "client_apps",
    "auth_protocol",
    "mailbox",
    "org_smtp_auth",
    "mailbox_override",
    "effective_smtp_auth",
    "exception",
    "approver",
    "ticket",
    "expires",
    "basic_auth_policy",
    "note",
)


def exit_code(reports: Sequence[TenantUsage]) -> int:
    """0 when every tenant was read whole; 2 when one was not (the report lacks it)."""
    return EXIT_OK if reports and all(r.complete for r in reports) else EXIT_INCOMPLETE


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def _ips(row: UsageRow) -> str:
    more = f" +{row.user.more_ips}" if row.user.more_ips else ""
    return " ".join(row.user.ip_addresses) + more


def _protocol(row: UsageRow) -> str:
    return "basic" if row.user.basic else "not told"


def _override(value: bool | None) -> str:
    return "follows org" if value is None else smtp_auth(value)


def exception_text(row: UsageRow) -> str:
    exc = row.exception
    if exc is None:
        return "none"
    if not row.exception_live:
        return f"expired {exc.expires.isoformat()}"
    return f"approved by {exc.approver} until {exc.expires.isoformat()}"


UNKNOWN_USERS = "who uses SMTP AUTH is unknown, not nobody"


def unavailable_text(report: TenantUsage) -> str | None:
    """Why the report of this tenant is not whole, in one line; None when it is."""
    if not report.evidence.available:
        return f"sign-in evidence unavailable ({report.evidence.problem}): {UNKNOWN_USERS}"
    return None


def _empty_text(report: TenantUsage) -> str:
    return (
        f"no successful SMTP AUTH sign-in in the last {report.days} days "
        "(OAuth SMTP senders do not show in the sign-in logs)"
    )


# -- table -------------------------------------------------------------------------


def text(reports: Sequence[TenantUsage]) -> str:
    lines: list[str] = []
    for r in reports:
        lines.append(f"Tenant {line(r.domain)} ({r.tenant_id})  SMTP AUTH sign-ins, last {r.days} days")
        if r.error:
            lines.append(f"  COULD NOT READ EXCHANGE: {line(r.error)}")
        else:
            lines.append(f"  org SMTP AUTH {smtp_auth(r.org_disabled)}")
        if r.basic_auth is not None:
            lines.append(f"  Basic SMTP AUTH: {line(r.basic_auth.summary(r.org_disabled))}")
        if not r.evidence.available:
            lines.append(f"  SIGN-IN EVIDENCE UNAVAILABLE: {line(r.evidence.problem)}: {UNKNOWN_USERS}")
        elif not r.rows:
            lines.append(f"  {_empty_text(r)}")
        else:
            rows = [
                (
                    "USER",
                    "SIGN-INS",
                    "FIRST SEEN",
                    "LAST SEEN",
                    "CLIENT IPS",
                    "AUTH",
                    "OVERRIDE",
                    "EFFECTIVE",
                    "EXCEPTION",
                )
            ]
            rows += [
                (
                    row.address,
                    number(row.user.sign_ins),
                    _when(row.user.first_seen),
                    _when(row.user.last_seen),
                    _ips(row),
                    _protocol(row),
                    _override(row.override) if row.mailbox else "no mailbox",
                    smtp_auth(row.effective_disabled),
                    exception_text(row),
                )
                for row in r.rows
            ]
            lines += table(rows)
        lines.append("")
    lines.append(
        f"Microsoft turns Basic auth for SMTP AUTH off by default at {BASIC_AUTH_OFF_TEXT} "
        f"({BASIC_AUTH_OFF_SOURCE}): senders shown as 'basic' stop working then."
    )
    return "\n".join(lines) + "\n"


# -- JSON --------------------------------------------------------------------------


def _clean(value: str | None) -> str | None:
    return None if value is None else one_line(value, MAX_NOTE)


def row_json(row: UsageRow) -> dict[str, Any]:
    exc = row.exception
    return {
        "user": _clean(row.user.user),
        "user_id": _clean(row.user.user_id) or None,
        "sign_ins": row.user.sign_ins,
        "first_seen": row.user.first_seen.isoformat(),
        "last_seen": row.user.last_seen.isoformat(),
        "client_ips": [_clean(ip) for ip in row.user.ip_addresses],
        "more_client_ips": row.user.more_ips,
        "client_apps": [_clean(app) for app in row.user.client_apps],
        "auth_protocol": "basic" if row.user.basic else None,
        "mailbox": _clean(row.mailbox.address) if row.mailbox else None,
        "mailbox_guid": row.mailbox.guid if row.mailbox else None,
        "mailbox_problem": None if row.mailbox else _clean(row.lookup_problem),
        # Values of SmtpClientAuthenticationDisabled: true = off, null = follows the org.
        "smtp_auth": {"org": row.org_disabled, "override": row.override, "effective": row.effective_disabled},
        "exception": None
        if exc is None
        else {
            "approved": row.exception_live,
            "approver": _clean(exc.approver),
            "ticket": _clean(exc.ticket),
            "expires": exc.expires.isoformat(),
            "reason": _clean(exc.reason),
        },
    }


def tenant_json(r: TenantUsage) -> dict[str, Any]:
    return {
        "tenant": r.tenant_id,
        "domain": _clean(r.domain),
        "days": r.days,
        "complete": r.complete,
        "error": _clean(r.error),
        "evidence": {"available": r.evidence.available, "problem": _clean(r.evidence.problem) or None},
        "org": {"smtp_auth_disabled": r.org_disabled},
        "basic_auth_smtp": basic_auth_json(r.basic_auth, r.org_disabled),
        # null, never [], when the logs could not be read: unknown is not "nobody".
        "users": [row_json(row) for row in r.rows] if r.evidence.available else None,
    }


def document(reports: Sequence[TenantUsage]) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "exit_code": exit_code(reports),
        "basic_auth_off_by_default": BASIC_AUTH_OFF.isoformat(),
        "tenants": [tenant_json(r) for r in reports],
    }


# -- CSV ---------------------------------------------------------------------------


def cell(value: object) -> str:
    """One CSV cell: one clean line, never a formula."""
    out = one_line("" if value is None else value, MAX_NOTE)
    return "'" + out if out.startswith(_FORMULA) else out


def _csv_row(r: TenantUsage, row: UsageRow | None, note: str) -> list[str]:
    policy = r.basic_auth.state if r.basic_auth else ""
    values: list[object] = [r.tenant_id, r.domain]
    if row is None:
        values += [""] * (len(CSV_COLUMNS) - 4)
    else:
        exc = row.exception
        values += [
            row.user.user,
            row.user.user_id,
            row.user.sign_ins,
            row.user.first_seen.isoformat(),
            row.user.last_seen.isoformat(),
            _ips(row),
            " ".join(row.user.client_apps),
            _protocol(row),
            row.mailbox.address if row.mailbox else "",
            smtp_auth(row.org_disabled),
            _override(row.override) if row.mailbox else "no mailbox",
            smtp_auth(row.effective_disabled),
            exception_text(row),
            exc.approver if exc else "",
            (exc.ticket or "") if exc else "",
            exc.expires.isoformat() if exc else "",
        ]
    values += [policy, note]
    return [cell(v) for v in values]


def to_csv(reports: Sequence[TenantUsage]) -> str:
    """One row per account, a tenant column; a tenant with no account (or whose logs
    could not be read) still has one row that says so."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in reports:
        missing = unavailable_text(r)
        note = "; ".join(x for x in (r.error, missing) if x)
        if missing or not r.rows:
            writer.writerow(_csv_row(r, None, note or _empty_text(r)))
            if missing:
                continue
        for row in r.rows:
            writer.writerow(_csv_row(r, row, r.error or ""))
    return out.getvalue()
