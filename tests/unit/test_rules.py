"""One rule catalogue: every finding kind has exactly one entry, and what policy,
remediation, cards, mails and reports say about a kind comes from that entry."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from html import unescape as unescape_html
from pathlib import Path
from types import MappingProxyType

import pytest

from shared.core import rules
from shared.core.model import FindingKind, Status
from shared.core.remediation import actions_for
from shared.core.rules import CATALOGUE, CIS, RULES, SCUBA, Severity
from shared.notify import card, mail_html
from shared.notify.compose import compose
from shared.notify.digest import TenantDigest, compose_digest
from shared.notify.events import Memory, derive
from shared.shell import report
from tests.cards import card_strings

from .notify_values import NOW, POLICY, findings, result

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_finding_kind_has_exactly_one_rule():
    kinds = [rule.kind for rule in RULES]
    assert sorted(kinds) == sorted(FindingKind) and len(kinds) == len(set(kinds))
    assert set(CATALOGUE) == set(FindingKind)
    for kind in FindingKind:
        assert kind.rule is CATALOGUE[kind] and kind.rule.kind is kind
        assert kind.rule.label and kind.rule.description
    with pytest.raises(TypeError):
        CATALOGUE[FindingKind.EXCEPTION_UNUSED] = CATALOGUE[FindingKind.ORG_SETTING_DRIFT]  # type: ignore[index]


def test_the_controls_say_what_each_standard_covers():
    # SCuBA MS.EXO.5.1v1 is about the org switch; CIS 6.5.4 also allows the per-mailbox exception.
    assert CATALOGUE[FindingKind.ORG_SETTING_DRIFT].controls == (CIS, SCUBA)
    for kind in (FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION, FindingKind.MAILBOX_EXCEPTION_EXPIRED):
        assert CATALOGUE[kind].controls == (CIS,)
    hygiene = CATALOGUE[FindingKind.EXCEPTION_UNUSED]
    assert hygiene.controls == () and hygiene.severity is Severity.INFO
    assert not hygiene.compliance_failure and not hygiene.remediable
    assert all(rule.severity is not Severity.INFO for rule in RULES if rule.compliance_failure)


def test_compliance_failure_and_remediable_are_read_from_the_catalogue(monkeypatch):
    current = findings("rogue@contoso.com", org_on=True)
    assert {f.kind for f in current} == {
        FindingKind.ORG_SETTING_DRIFT,
        FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION,
    }
    assert [a.finding_kind for a in actions_for(current, POLICY)] == [
        FindingKind.ORG_SETTING_DRIFT,
        FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION,
    ]
    # Say the org switch is hygiene that remediation leaves alone: everything follows.
    changed = dict(CATALOGUE)
    changed[FindingKind.ORG_SETTING_DRIFT] = replace(
        CATALOGUE[FindingKind.ORG_SETTING_DRIFT], compliance_failure=False, remediable=False
    )
    monkeypatch.setattr(rules, "CATALOGUE", MappingProxyType(changed))
    assert not FindingKind.ORG_SETTING_DRIFT.is_compliance_failure
    assert [a.finding_kind for a in actions_for(current, POLICY)] == [
        FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION
    ]


def test_labels_and_severity_in_card_mail_digest_and_report_come_from_the_catalogue(monkeypatch):
    changed = {
        kind: replace(rule, label=f"label-of-{kind}", severity=Severity.LOW)
        for kind, rule in CATALOGUE.items()
    }
    changed[FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION] = replace(
        changed[FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION],
        severity=Severity.HIGH,
        controls=("CTRL-1", "CTRL-2"),
    )
    monkeypatch.setattr(rules, "CATALOGUE", MappingProxyType(changed))
    current = findings("printer@contoso.com", org_on=True)
    r = result(current)
    day = timedelta(hours=24)
    message = compose(r, derive(r, Memory(), first_seen={}, remind_every=day), remind_every=day)

    card_text = re.sub(r"\\(.)", r"\1", "\n".join(card_strings(json.loads(card.payload(message)))))
    mail_text = unescape_html(mail_html.render(message).html)
    for shown in (card_text, mail_text):
        assert "label-of-org-setting-drift (low): SMTP AUTH ON" in shown
        assert "label-of-mailbox-enabled-without-exception (high): SMTP AUTH ON" in shown
        assert "organization switch" not in shown and "no approved exception" not in shown

    digest = compose_digest(
        TenantDigest(POLICY, Status.DRIFT, NOW, NOW, open_findings=[(f, NOW) for f in current]), NOW
    )
    digest_text = "\n".join(line.detail for section in digest.sections for line in section.lines)
    assert "label-of-mailbox-enabled-without-exception (high)" in digest_text

    kinds = {str(k) for k in FindingKind}
    rows = [line.split() for line in report.text([r]).splitlines()]
    table = {cells[0]: cells[1] for cells in rows if cells and cells[0] in kinds}
    assert table == {"org-setting-drift": "low", "mailbox-enabled-without-exception": "high"}
    doc = report.document([r])
    by_kind = {f["kind"]: f for f in doc["results"][0]["findings"]}
    assert by_kind["mailbox-enabled-without-exception"]["severity"] == "high"
    assert by_kind["mailbox-enabled-without-exception"]["controls"] == ["CTRL-1", "CTRL-2"]
    assert by_kind["org-setting-drift"]["severity"] == "low"


def test_check_json_carries_severity_and_controls_and_stays_version_1():
    r = result(findings("printer@contoso.com", org_on=True))
    doc = json.loads(json.dumps(report.document([r])))
    assert doc["version"] == 1
    for finding in doc["results"][0]["findings"]:
        rule = CATALOGUE[FindingKind(finding["kind"])]
        assert finding["severity"] == str(rule.severity) and finding["controls"] == list(rule.controls)
        assert {
            "kind",
            "severity",
            "controls",
            "mailbox",
            "mailbox_guid",
            "actual",
            "desired",
            "message",
        } <= set(finding)


def test_readme_rule_table_is_the_catalogue():
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if (
            len(cells) == 6
            and cells[0].startswith("`")
            and cells[0].strip("`") in {str(k) for k in FindingKind}
        ):
            rows[FindingKind(cells[0].strip("`"))] = cells[1:]
    assert set(rows) == set(FindingKind)
    for kind, (label, severity, controls, failure, remediable) in rows.items():
        rule = CATALOGUE[kind]
        assert (label, severity) == (rule.label, str(rule.severity))
        assert [c.strip() for c in controls.split(",")] == (list(rule.controls) or ["(none: hygiene)"])
        assert (failure, remediable) == (
            "yes" if rule.compliance_failure else "no",
            "yes" if rule.remediable else "no",
        )
