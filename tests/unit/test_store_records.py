"""Rows read back from the history and audit tables: what the writers store comes
back as the same values, and a malformed row is an error that names the table, the
row and the property (never a KeyError in whoever reads it next)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from shared.core.diff import diff
from shared.core.model import (
    Action,
    ActionKind,
    ActionResult,
    ActionStatus,
    ChangeKind,
    FindingKind,
    SignInEvidence,
    Status,
)
from shared.shell import report
from shared.store.audit import audit_entity
from shared.store.records import AuditRecord, FindingEvent, OpenFinding, RecordError, RunRecord
from shared.store.runs import finding_entity, run_entity

from .notify_values import NOW, TENANT, findings, result


def test_a_run_row_reads_back_as_written():
    org, mailbox = findings("a@contoso.com", org_on=True)
    checked = result((org, mailbox))
    entity = run_entity(checked, diff({}, checked.findings))
    run = RunRecord.of(entity, "SmtpAuthRuns")
    assert (run.tenant, run.row_key, run.checked_at, run.status) == (
        TENANT,
        entity["RowKey"],
        NOW,
        Status.DRIFT,
    )
    assert (run.mailboxes_scanned, run.finding_count) == (1000, 2)
    assert dict(run.finding_counts) == {str(FindingKind.ORG_SETTING_DRIFT): 1, str(mailbox.kind): 1}
    assert (run.opened, run.changed, run.resolved, run.unchanged) == (2, 0, 0, 0)
    assert (run.org_actual, run.org_desired, run.error) == (False, True, None)


def test_a_run_that_could_not_check_compared_nothing():
    failed = replace(result(()), status=Status.ERROR, org_actual=None, error="throttled")
    run = RunRecord.of(run_entity(failed, None))
    assert run.status is Status.ERROR and run.error == "throttled" and run.org_actual is None
    assert (run.opened, run.changed, run.resolved, run.unchanged) == (None, None, None, None)


def test_findings_and_events_read_back_as_written():
    (org, mailbox) = findings("a@contoso.com", org_on=True)
    since = NOW - timedelta(days=3)
    assert OpenFinding.of(finding_entity(TENANT, mailbox, since)) == OpenFinding(mailbox, since)
    assert OpenFinding.of(finding_entity(TENANT, org, since)).finding == org  # no GUID, no mailbox
    row = finding_entity(TENANT, mailbox, NOW) | {"RowKey": "e1", "At": NOW, "Change": "resolved"}
    event = FindingEvent.of(row)
    assert (event.tenant, event.row_key, event.at, event.change) == (TENANT, "e1", NOW, ChangeKind.RESOLVED)
    assert event.finding == mailbox and event.fingerprint == row["Fingerprint"]


def test_an_audit_row_reads_back_as_written():
    sign_in = SignInEvidence("p@contoso.com", NOW - timedelta(days=1), "192.0.2.4", "SMTP", user_id="u-1")
    action = Action(
        ActionKind.SET_MAILBOX, "p@contoso.com", None, True, FindingKind.MAILBOX_EXCEPTION_EXPIRED, "g-1"
    )
    held = ActionResult(action, ActionStatus.HELD, "used yesterday", (sign_in,))
    entity = audit_entity(TENANT, "run-1", NOW, 3, held, "remediation", "sign-in logs read: last 30 days")
    record = AuditRecord.of(entity, "SmtpAuthAudit")
    assert (record.tenant, record.row_key, record.at, record.run_id, record.source) == (
        TENANT,
        entity["RowKey"],
        NOW,
        "run-1",
        "remediation",
    )
    assert (record.action, record.target, record.mailbox_guid, record.finding) == (
        ActionKind.SET_MAILBOX,
        "p@contoso.com",
        "g-1",
        FindingKind.MAILBOX_EXCEPTION_EXPIRED,
    )
    # Before $null (follow the org) survives as None, not as False or "null".
    assert (record.before, record.after, record.status, record.reason) == (
        None,
        True,
        ActionStatus.HELD,
        held.reason,
    )
    assert record.evidence == (sign_in,)
    assert record.evidence_checked == "sign-in logs read: last 30 days"


def _run_row(**changes: object) -> dict[str, object]:
    entity = run_entity(result(findings("a@contoso.com")), None)
    entity.update(changes)
    return {k: v for k, v in entity.items() if v is not None}


def _audit_row(**changes: object) -> dict[str, object]:
    action = Action(ActionKind.SET_ORG, "organization", False, True, FindingKind.ORG_SETTING_DRIFT)
    entity = audit_entity(TENANT, "run-1", NOW, 0, ActionResult(action, ActionStatus.APPLIED, "done"), "plan")
    entity.update(changes)
    return {k: v for k, v in entity.items() if v is not None}


@pytest.mark.parametrize(
    ("read", "entity", "field", "problem"),
    [
        (RunRecord.of, _run_row(Status=None), "Status", "is missing"),
        (RunRecord.of, _run_row(Status="broken"), "Status", "must be one of 'compliant', 'drift'"),
        (RunRecord.of, _run_row(CheckedAt="2026-11-28"), "CheckedAt", "must be a date and time"),
        (RunRecord.of, _run_row(MailboxesScanned="many"), "MailboxesScanned", "whole number"),
        (RunRecord.of, _run_row(Opened=True), "Opened", "whole number"),
        (RunRecord.of, _run_row(OrgActual="false"), "OrgActual", "true or false"),
        (RunRecord.of, _run_row(FindingCounts="{oops"), "FindingCounts", "must be JSON"),
        (RunRecord.of, _run_row(FindingCounts='{"x": "1"}'), "FindingCounts", "counts"),
        (RunRecord.of, _run_row(Error=42), "Error", "must be text"),
        (AuditRecord.of, _audit_row(Before="maybe"), "Before", "'true', 'false' or 'null'"),
        (AuditRecord.of, _audit_row(Status="done"), "Status", "must be one of"),
        (AuditRecord.of, _audit_row(RunId=None), "RunId", "is missing"),
        (AuditRecord.of, _audit_row(Evidence='[{"ip": "x"}]'), "Evidence", "list of sign-ins"),
        (AuditRecord.of, _audit_row(Evidence='[{"user": "u", "at": "yesterday"}]'), "Evidence", "sign-ins"),
        (
            OpenFinding.of,
            {**_run_row(), "Kind": "org-setting-drift", "Target": "organization"},
            "FirstSeen",
            "missing",
        ),
        (
            FindingEvent.of,
            {"PartitionKey": TENANT, "RowKey": "e", "At": NOW, "Change": "x"},
            "Change",
            "one of",
        ),
    ],
)
def test_a_malformed_row_names_the_table_the_row_and_the_property(read, entity, field, problem):
    with pytest.raises(RecordError, match=problem) as caught:
        read(entity, "SmtpAuthSomething")
    assert str(caught.value).startswith(
        f"table 'SmtpAuthSomething', tenant {TENANT!r}, row {entity['RowKey']!r}, property {field!r}: "
    )
    assert (caught.value.table, caught.value.row, caught.value.field) == (
        "SmtpAuthSomething",
        entity["RowKey"],
        field,
    )


def test_a_row_without_keys_is_named_as_far_as_it_can_be():
    with pytest.raises(RecordError, match="property 'RowKey': is missing"):
        RunRecord.of({"PartitionKey": TENANT}, "SmtpAuthRuns")


def test_records_are_frozen():
    run = RunRecord.of(_run_row())
    with pytest.raises(AttributeError):
        run.status = Status.COMPLIANT  # type: ignore[misc]
    with pytest.raises(TypeError):
        run.finding_counts["x"] = 1  # type: ignore[index]


def test_audit_output_says_the_setting_as_stored_and_whether_evidence_was_read():
    action = Action(
        ActionKind.SET_MAILBOX, "p@contoso.com", False, None, FindingKind.MAILBOX_EXCEPTION_EXPIRED
    )
    applied = ActionResult(action, ActionStatus.APPLIED, "done and read back")
    record = AuditRecord.of(audit_entity(TENANT, "run-1", NOW, 0, applied, "remediation", "not needed"))
    (doc,) = report.audit_json([record])
    assert (doc["Before"], doc["After"], doc["MailboxGuid"], doc["Evidence"]) == ("false", "null", "", [])
    assert doc["EvidenceChecked"] == "not needed" and doc["At"] == NOW.isoformat()
    _, line = report.audit_text([record]).splitlines()
    assert line.split() == [*NOW.strftime("%Y-%m-%d %H:%M:%S").split(), "remediation", "applied", "set-mailbox",
                            "p@contoso.com", "false", "null", "done", "and", "read", "back"]  # fmt: skip
    assert report.audit_text([]) == "no remediation recorded\n"
