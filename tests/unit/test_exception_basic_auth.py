"""exception-uses-basic-auth: an approved exception whose mailbox signed in with
Basic-auth SMTP AUTH will stop working when Basic auth goes. Judged in the pure policy,
told once when it appears, then carried by the digest in a section of its own."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from shared.core.diff import diff
from shared.core.model import (
    Evidence,
    FindingKind,
    MailboxException,
    MailboxSetting,
    Observation,
    SignInEvidence,
    Status,
    TenantPolicy,
)
from shared.core.policy import evaluate, needs_usage_evidence, status_of
from shared.core.smtp_usage import summarise
from shared.notify.compose import compose
from shared.notify.digest import TenantDigest, compose_digest
from shared.notify.events import Memory, derive
from shared.shell import report

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
KIND = FindingKind.EXCEPTION_USES_BASIC_AUTH


def mailbox(name: str, disabled: bool | None = False) -> MailboxSetting:
    return MailboxSetting(
        str(uuid.uuid5(uuid.NAMESPACE_DNS, name)), f"{name}@contoso.com", disabled, f"oid-{name}"
    )


def approve(mb: MailboxSetting, expires: date = date(2027, 6, 30)) -> MailboxException:
    return MailboxException(
        f"e:{mb.guid}", mb.address, mb.guid, "MFP scan to mail", "ciso@contoso.com", expires
    )


PRINTER = mailbox("printer")
POLICY = TenantPolicy("t1", "contoso.onmicrosoft.com", exceptions=(approve(PRINTER),))


def evidence(*users: tuple[str, str, str], available: bool = True) -> Evidence:
    """(user, user_id, client app) sign-ins, two each."""
    sign_ins = [
        SignInEvidence(u, NOW - timedelta(hours=h), "203.0.113.10", user_id=uid, client_app=app)
        for u, uid, app in users
        for h in (2, 30)
    ]
    return Evidence(available, 30, users=summarise(sign_ins), problem="" if available else "HTTP 403")


def observe(*mailboxes: MailboxSetting, org: bool = True) -> Observation:
    return Observation("t1", org, 1000, mailboxes)


def at_risk(policy=POLICY, observed=None, now=NOW, ev=None, previous=()):
    found = evaluate(policy, observed or observe(PRINTER), now, ev, previous)
    return [f for f in found if f.kind is KIND]


def test_an_exception_that_signs_in_with_basic_auth_is_at_risk_and_stays_compliant():
    (finding,) = at_risk(ev=evidence(("", "oid-printer", "Authenticated SMTP")))  # matched by object id
    assert (finding.target, finding.mailbox_guid, finding.actual) == (PRINTER.address, PRINTER.guid, False)
    assert "2 sign-in(s) in the last 30 days" in finding.message and "203.0.113.10" in finding.message
    assert "at the end of December 2026 (MC786329, timeline updated 2026-01-27)" in finding.message
    assert "OAuth SMTP AUTH" in finding.message and "High Volume Email" in finding.message
    assert "relay connector" in finding.message and finding.message.count("https://learn.microsoft.com/") == 3
    assert status_of([finding]) is Status.COMPLIANT  # hygiene
    assert not KIND.rule.remediable and KIND.rule.told_when_opened


def test_only_live_exceptions_with_smtp_auth_on_and_basic_sign_ins_count():
    basic = evidence((PRINTER.address, "", "SMTP"))
    assert at_risk(ev=evidence((PRINTER.address, "", "Browser"))) == []  # not SMTP AUTH
    assert at_risk(ev=basic, observed=observe(replace(PRINTER, smtp_auth_disabled=True))) == []  # off anyway
    expired = replace(POLICY, exceptions=(approve(PRINTER, date(2026, 11, 1)),))
    assert at_risk(policy=expired, ev=basic) == []  # its own finding says expired
    follower = replace(PRINTER, smtp_auth_disabled=None)
    assert at_risk(ev=basic, observed=observe(follower, org=False))  # SMTP AUTH on through the org switch
    assert not needs_usage_evidence(replace(POLICY, exceptions=()), observe(PRINTER), NOW)
    assert needs_usage_evidence(POLICY, observe(PRINTER), NOW)


def test_unreadable_logs_keep_what_was_open_and_decide_nothing_new():
    (open_before,) = at_risk(ev=evidence((PRINTER.address, "", "SMTP")))
    unknown = evidence(available=False)
    assert at_risk(ev=unknown, previous=[open_before]) == [open_before]
    assert at_risk(ev=unknown) == []
    gone = replace(POLICY, exceptions=())
    assert at_risk(policy=gone, ev=unknown, previous=[open_before]) == []  # no exception, nothing at risk


def test_after_the_date_the_message_says_it_has_happened():
    later = datetime(2027, 1, 15, tzinfo=UTC)
    (finding,) = at_risk(now=later, ev=evidence((PRINTER.address, "", "SMTP")))
    assert "Microsoft turned Basic auth for SMTP AUTH off by default" in finding.message


def checked(current, before=()):
    from shared.core.model import CheckResult

    return CheckResult(
        "t1",
        NOW,
        status_of(current),
        True,
        True,
        1000,
        tuple(current),
        diff=diff({f.key: f for f in before}, current, ()),
        policy=POLICY,
        previous_status=Status.COMPLIANT,
    )


def test_told_once_when_it_appears_then_only_in_the_digest():
    (finding,) = at_risk(ev=evidence((PRINTER.address, "", "SMTP")))
    first = checked([finding])
    events = derive(first, Memory(), first_seen={}, remind_every=timedelta(hours=24))
    assert [e.finding.kind for e in events] == [KIND]
    message = compose(first, events, remind_every=timedelta(hours=24))
    assert message.title == "Approved SMTP AUTH exception at risk in contoso.onmicrosoft.com"
    assert any("OAuth SMTP AUTH" in todo for todo in message.todo)
    assert not any("needs an approved exception" in todo for todo in message.todo)

    again = checked([finding], before=[finding])
    assert derive(again, Memory(NOW), first_seen={}, remind_every=timedelta(hours=24)) == ()
    changed = checked([replace(finding, actual=None)], before=[finding])
    assert derive(changed, Memory(NOW), first_seen={}, remind_every=timedelta(hours=1)) == ()

    digest = compose_digest(
        TenantDigest(POLICY, Status.COMPLIANT, NOW, NOW, open_findings=[(finding, NOW)]), NOW
    )
    (section,) = [s for s in digest.sections if "Basic auth goes" in s.heading]
    assert section.lines[0].text == PRINTER.address
    assert not any(s.heading.startswith("Housekeeping") for s in digest.sections)
    assert any("Move the device or app" in todo for todo in digest.todo)


def test_check_shows_it_in_the_table_and_json():
    (finding,) = at_risk(ev=evidence((PRINTER.address, "", "SMTP")))
    result = checked([finding])
    (doc,) = report.document([result])["results"]
    assert [(f["kind"], f["severity"], f["controls"]) for f in doc["findings"]] == [
        ("exception-uses-basic-auth", "info", [])
    ]
    table = report.text([result])
    assert "exception-uses-basic-auth" in table and "Basic-auth SMTP AUTH" in table
