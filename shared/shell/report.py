"""Check results as text for people and as JSON for scripts. Pure.

The text is for a terminal: every tenant-supplied string in it (addresses, reasons,
error texts, notes) is one clean line (shared.notify.text.one_line, the cleaning the
cards and mails use: no control, escape or bidi characters, no line breaks), and every
count is written one way (``number``: thousands separated). The JSON keeps values as
they are (JSON escapes what it must)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from shared.core import commands
from shared.core.basic_auth import BASIC_AUTH_OFF, BasicAuthPolicy
from shared.core.model import ActionKind, ActionStatus, CheckResult, Finding, RemediationOutcome, Status
from shared.notify.text import MAX_NOTE, MAX_TEXT, one_line
from shared.store.records import AuditRecord, FindingEvent, RunRecord, setting_text

JSON_VERSION = 1


def smtp_auth(disabled: bool | None) -> str:
    """Say what the property means: SmtpClientAuthenticationDisabled=False is ON."""
    if disabled is None:
        return "-"
    return "off" if disabled else "ON"


def finding_json(f: Finding) -> dict[str, Any]:
    return {
        "kind": str(f.kind),
        # From the rule catalogue; added in version 1 (new keys do not break readers).
        "severity": str(f.kind.rule.severity),
        "controls": list(f.kind.rule.controls),
        "mailbox": f.target,
        "mailbox_guid": f.mailbox_guid,
        "actual": f.actual,
        "desired": f.desired,
        "message": f.message,
    }


def basic_auth_json(policy: BasicAuthPolicy | None, org_actual: bool | None) -> dict[str, Any] | None:
    """Whether Basic SMTP AUTH is still possible (added in version 1); None: not read."""
    if policy is None:
        return None
    return {
        "state": policy.state,  # allowed, blocked, unknown
        "default_policy": None if policy.default_policy is None else one_line(policy.default_policy),
        "allow_basic_auth_smtp": policy.allow_smtp,
        # Basic SMTP AUTH for every mailbox that follows the org (null: not known).
        "possible_org_wide": policy.org_wide(org_actual),
        "problem": one_line(policy.problem, MAX_NOTE) if policy.problem else None,
        "basic_auth_off_by_default": BASIC_AUTH_OFF.isoformat(),
    }


def result_json(result: CheckResult) -> dict[str, Any]:
    diff = result.diff
    return {
        "tenant": result.tenant_id,
        "checked_at": result.checked_at.isoformat(),
        "status": str(result.status),
        "compliant": result.compliant,
        # Values of SmtpClientAuthenticationDisabled: true = SMTP AUTH off.
        "org": {"actual": result.org_actual, "desired": result.org_desired},
        "mailboxes_scanned": result.mailboxes_scanned,
        # Still open after this run's remediation; what it fixed and read back is in
        # "fixed" (added in version 1), as it was found ("actual" before the fix).
        "findings": [finding_json(f) for f in result.findings],
        "fixed": [finding_json(f) for f in result.fixed],
        "changes": None
        if diff is None
        else {
            "opened": len(diff.opened),
            "changed": len(diff.changed),
            "resolved": len(diff.resolved),
            "unchanged": len(diff.unchanged),
            "fixed": len(diff.fixed),
        },
        "error": result.error,
        "remediation": remediation_json(result.remediation),
        "basic_auth_smtp": basic_auth_json(result.basic_auth, result.org_actual),
    }


def document(results: Sequence[CheckResult]) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "exit_code": exit_code(results),
        "results": [result_json(r) for r in results],
    }


def exit_code(results: Sequence[CheckResult]) -> int:
    """0 compliant, 1 drift found, 2 could not check (a worse state wins)."""
    if not results or any(r.status is Status.ERROR for r in results):
        return 2
    if any(r.status is Status.DRIFT for r in results):
        return 1
    return 0


def number(count: int) -> str:
    """A count as every table and summary line writes it."""
    return f"{count:,}"


def line(text: object) -> str:
    """Tenant text in a line of the report: one clean line."""
    return one_line(text, MAX_NOTE)


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned columns; each cell one clean line (a line break or an escape sequence
    in tenant text would break the table, or the terminal)."""
    cells = [[one_line(cell, MAX_TEXT) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]


def text(results: Sequence[CheckResult], *, limit: int = 50) -> str:
    lines: list[str] = []
    for r in results:
        when = r.checked_at.strftime("%Y-%m-%d %H:%M UTC")
        lines.append(f"Tenant {r.tenant_id}  checked {when}")
        if r.status is Status.ERROR:
            lines.append(f"  COULD NOT CHECK: {line(r.error)}")
            lines.append("")
            continue
        lines.append(
            f"  {'COMPLIANT' if r.compliant else 'DRIFT'}   org SMTP AUTH {smtp_auth(r.org_actual)} "
            f"(policy: {smtp_auth(r.org_desired)})   mailboxes scanned: {number(r.mailboxes_scanned)}"
        )
        if r.basic_auth is not None:
            lines.append(f"  Basic SMTP AUTH: {line(r.basic_auth.summary(r.org_actual))}")
        if r.findings:
            rows = [("KIND", "SEVERITY", "MAILBOX", "SMTP AUTH", "POLICY")]
            rows += [
                (str(f.kind), str(f.kind.rule.severity), f.target, smtp_auth(f.actual), smtp_auth(f.desired))
                for f in r.findings[:limit]
            ]
            lines += table(rows)
            if len(r.findings) > limit:
                lines.append(f"  ... and {number(len(r.findings) - limit)} more (use --json for all)")
            lines.append("")
            lines.append("  What to do (one example per kind; --json has the fix for every finding):")
            seen_kinds = set()
            for f in r.findings:
                if f.kind not in seen_kinds:
                    seen_kinds.add(f.kind)
                    lines.append(f"  - {line(f.message)}")
        if r.fixed:
            lines.append("")
            lines.append(f"  Fixed by remediation in this run and read back ({number(len(r.fixed))}):")
            # What it was; what it is now is the action's TO under "Remediation".
            fixed_rows: list[tuple[str, ...]] = [("KIND", "SEVERITY", "MAILBOX", "SMTP AUTH WAS")]
            fixed_rows += [
                (str(f.kind), str(f.kind.rule.severity), f.target, smtp_auth(f.actual))
                for f in r.fixed[:limit]
            ]
            lines += table(fixed_rows)
            if len(r.fixed) > limit:
                lines.append(f"  ... and {number(len(r.fixed) - limit)} more (use --json for all)")
        if r.remediation is not None:
            lines += remediation_text(r.remediation)
        if r.diff is not None:
            d = r.diff
            fixed = f", {number(len(d.fixed))} fixed by remediation" if d.fixed else ""
            lines.append(
                f"  Since the last run: {number(len(d.opened))} new, {number(len(d.changed))} changed, "
                f"{number(len(d.resolved))} resolved, {number(len(d.unchanged))} unchanged{fixed}"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# -- remediation ---------------------------------------------------------------------


def remediation_json(outcome: RemediationOutcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    return {
        "mode": str(outcome.mode),
        "note": _note(outcome) or None,
        "stopped": outcome.stopped,
        "actions": [
            {
                "action": str(r.action.kind),
                "target": r.action.target,
                "mailbox_guid": r.action.mailbox_guid,
                "finding": str(r.action.finding_kind),
                "before": r.action.before,
                "after": r.action.after,
                "status": str(r.status),
                "reason": r.reason,
                # When its grace period ends (null: none applies); added in version 1.
                "due": r.due.isoformat() if r.due else None,
                "held_by": r.held_by or None,  # the guard that held it (null: none did)
                "evidence": [
                    {"user": s.user, "at": s.at.isoformat(), "ip": s.ip_address, "app": s.app}
                    for s in r.evidence
                ],
            }
            for r in outcome.results
        ],
    }


def _note(outcome: RemediationOutcome) -> str:
    # Said as before the stop had a field of its own, for people and scripts reading it.
    if outcome.stopped is not None:
        return f"remediation stopped: {outcome.stopped}"
    return outcome.note


def plan_exit_code(result: CheckResult) -> int:
    """As check: 0 nothing to do, 1 drift or changes planned, 2 could not check."""
    planned = result.remediation is not None and any(
        r.status is ActionStatus.PLANNED for r in result.remediation.results
    )
    return max(exit_code([result]), 1 if planned else 0)


def plan_document(result: CheckResult) -> dict[str, Any]:
    """check's envelope; each result's ``remediation`` is what would be done (its
    actions ``planned`` or ``held``), ``changes`` null: a plan records nothing."""
    doc = result_json(result)
    if doc["remediation"] is None and result.status is not Status.ERROR:
        doc["remediation"] = {"mode": None, "note": None, "stopped": None, "actions": []}
    return {"version": JSON_VERSION, "exit_code": plan_exit_code(result), "results": [doc]}


def remediation_text(outcome: RemediationOutcome | None, *, verb: str = "Remediation") -> list[str]:
    if outcome is None or not (outcome.results or outcome.note or outcome.stopped is not None):
        return [f"  {verb}: nothing to do."]
    if outcome.stopped is not None:
        return [f"  {verb}: nothing done.", f"  Note: {line(_note(outcome))}"]
    counts: dict[str, int] = {}
    for r in outcome.results:
        counts[str(r.status)] = counts.get(str(r.status), 0) + 1
    lines = [f"  {verb}: " + ", ".join(f"{number(n)} {status}" for status, n in sorted(counts.items()))]
    if outcome.note:
        lines.append(f"  Note: {line(outcome.note)}")
    rows = [("STATUS", "ACTION", "TARGET", "FROM", "TO", "DUE")]
    rows += [
        (
            str(r.status).upper() if r.status is not ActionStatus.APPLIED else "applied",
            "Set-TransportConfig" if r.action.kind is ActionKind.SET_ORG else "Set-CASMailbox",
            r.action.target,
            commands.powershell_value(r.action.before),
            commands.powershell_value(r.action.after),
            # The end of its grace period: not done before it ("-": none applies).
            r.due.strftime("%Y-%m-%d %H:%M UTC") if r.due else "-",
        )
        for r in outcome.results
    ]
    lines += table(rows)
    lines.append("  Why:")
    lines += [f"  - {line(r.action.target)}: {line(r.reason)}" for r in outcome.results]
    return lines


def plan_text(result: CheckResult) -> str:
    if result.status is Status.ERROR:
        return text([result])
    head = text([replace(result, remediation=None)]).rstrip("\n").splitlines()
    body = remediation_text(result.remediation, verb="Plan (nothing has been changed)")
    return "\n".join([*head, "", *body]) + "\n"


# -- history and audit (from the stores' records) --------------------------------------

_TIME = "%Y-%m-%d %H:%M:%S"


def _count(n: int | None) -> str:
    return "-" if n is None else number(n)  # None: the run could not check, so compared nothing


def history_text(runs: Sequence[RunRecord], events: Sequence[FindingEvent]) -> str:
    if not runs:
        lines = ["no runs recorded"]
    else:
        # FIXED (by the run's own remediation) only where a run fixed something.
        fixes = any(r.fixed for r in runs)
        rows: list[tuple[str, ...]] = [
            ("CHECKED AT", "STATUS", "MAILBOXES", "FINDINGS", "NEW", "RESOLVED")
            + (("FIXED",) if fixes else ())
        ]
        rows += [
            (
                r.checked_at.strftime(_TIME),
                str(r.status),
                number(r.mailboxes_scanned),
                number(r.finding_count),
                _count(r.opened),
                _count(r.resolved),
            )
            # Runs recorded before fixes were counted had none apart.
            + ((_count(r.fixed if r.fixed is not None or r.opened is None else 0),) if fixes else ())
            for r in runs
        ]
        lines = table(rows)
    if events:
        rows = [("AT", "CHANGE", "KIND", "MAILBOX")]
        rows += [(e.at.strftime(_TIME), str(e.change), str(e.finding.kind), e.finding.target) for e in events]
        lines += ["", *table(rows)]
    return "\n".join(lines) + "\n"


def audit_json(records: Sequence[AuditRecord]) -> list[dict[str, Any]]:
    """The audit rows under their table names (Before/After as stored: "null" is the org default)."""
    return [
        {
            "At": r.at.isoformat(),
            "RunId": r.run_id,
            "Source": r.source,
            "Action": str(r.action),
            "Target": r.target,
            "MailboxGuid": r.mailbox_guid or "",
            "Finding": str(r.finding),
            "Before": setting_text(r.before),
            "After": setting_text(r.after),
            "Status": str(r.status),
            "Reason": r.reason,
            "Evidence": [
                {
                    "user": s.user,
                    "user_id": s.user_id,
                    "at": s.at.isoformat(),
                    "ip": s.ip_address,
                    "app": s.app,
                }
                for s in r.evidence
            ],
            # "none found" and "not read" differ: an empty Evidence alone cannot say which.
            "EvidenceChecked": r.evidence_checked,
            "Warnings": list(r.warnings),
        }
        for r in records
    ]


def audit_text(records: Sequence[AuditRecord], *, reason_width: int = 90) -> str:
    if not records:
        return "no remediation recorded\n"
    rows = [("AT", "SOURCE", "STATUS", "ACTION", "TARGET", "BEFORE", "AFTER", "REASON")]
    rows += [
        (
            r.at.strftime(_TIME),
            r.source,
            str(r.status),
            str(r.action),
            r.target,
            setting_text(r.before),
            setting_text(r.after),
            r.reason if len(r.reason) <= reason_width else r.reason[: reason_width - 3] + "...",
        )
        for r in records
    ]
    return "\n".join(table(rows)) + "\n"
