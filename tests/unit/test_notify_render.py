"""What the card and the email say, how hostile text is escaped, and how a huge
change is cut down to fit Teams' size limit. Assertions are on rendered output."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import pytest

from shared.core.model import ActionStatus, MailboxException, Status
from shared.notify import card, mail_html
from shared.notify.compose import compose
from shared.notify.digest import TenantDigest, compose_digest
from shared.notify.dispatch import outbox_payload
from shared.notify.events import Memory, derive
from shared.notify.message import Message
from shared.notify.text import clean
from shared.notify.undelivered import Undelivered, with_undelivered
from shared.store.outbox import MAX_PAYLOAD_CHARS
from tests.cards import card_strings, elements, text_runs

from .notify_values import DOMAIN, HOSTILE, NON_LATIN, NOW, POLICY, TENANT, action, findings, outcome, result

DAY = timedelta(hours=24)
NEVER_TOLD = Memory()


def message_for(r, memory=NEVER_TOLD, first_seen=None) -> Message:
    events = derive(r, memory, first_seen=first_seen or {}, remind_every=DAY)
    assert events
    return compose(r, events, remind_every=DAY)


def card_texts(body: bytes) -> list[str]:
    """Every text a person sees in the posted card (TextBlocks and facts)."""
    return card_strings(json.loads(body))


def test_drift_opened_says_which_tenant_what_how_since_when_and_what_to_do():
    r = result(findings("printer@contoso.com", org_on=True))
    message = message_for(r)
    body = card.payload(message)
    text = "\n".join(card_texts(body))
    assert message.title == f"SMTP AUTH drift found in {DOMAIN}"
    assert TENANT in text and DOMAIN in text
    assert "printer@contoso.com" in text and "Organization (Set-TransportConfig)" in text
    assert "SMTP AUTH ON, policy: off" in text  # actual vs desired
    assert "Checked: 2026-11-28 09:00 UTC" in text  # since when (new drift began now)
    assert "Set-TransportConfig -SmtpClientAuthenticationDisabled $true" in text  # the exact fix
    assert "Set-CASMailbox -Identity" in text
    assert f"smtp-auth-guard exception add --tenant {TENANT} --mailbox printer@contoso.com" in text
    envelope = json.loads(body)
    assert envelope["type"] == "message"
    (attachment,) = envelope["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["version"] == "1.4"

    mail = mail_html.render(message)
    assert mail.subject == f"[SMTP AUTH Guard] SMTP AUTH drift found in {DOMAIN}: org SMTP AUTH ON, 2 new"
    assert "printer@contoso.com" in mail.html and "Set-CASMailbox -Identity" in mail.html
    assert "\n" not in mail.subject


def test_resolved_and_reminder_read_right():
    current = findings("a@contoso.com", "b@contoso.com")
    fixed = message_for(result((), before=current, previous=Status.DRIFT))
    assert fixed.title == f"SMTP AUTH drift resolved in {DOMAIN}" and fixed.summary == "2 resolved"
    assert fixed.todo == ()  # nothing to do

    first = NOW - timedelta(days=3)
    reminder = message_for(
        result(current, before=current, previous=Status.DRIFT),
        Memory(NOW - DAY),
        first_seen={f.key: first for f in current},
    )
    assert reminder.title == f"Reminder: SMTP AUTH drift still open in {DOMAIN}"
    assert "since 2026-11-25 09:00 UTC" in ("\n".join(card_texts(card.payload(reminder))))
    assert "a reminder follows every 24 h" in reminder.footer


def test_could_not_check_says_why():
    message = message_for(
        result(error="Get-CASMailbox failed (HTTP 403): no Exchange role", previous=Status.DRIFT)
    )
    assert message.title == f"Could not check SMTP AUTH in {DOMAIN}"
    text = "\n".join(card_texts(card.payload(message)))
    assert "no Exchange role" in text and "docs/permissions.md" in text


def test_remediation_outcomes_render_with_reason_and_evidence():
    org, a, b = findings("a@contoso.com", "b@contoso.com", org_on=True)
    rem = outcome(
        action(org, ActionStatus.APPLIED, "done and read back"),
        action(
            a, ActionStatus.HELD, "a@contoso.com used SMTP AUTH in the last 30 days", users=["a@contoso.com"]
        ),
        action(b, ActionStatus.FAILED, "the change was refused: access denied"),
        note="Sign-in evidence read for 30 days.",
    )
    message = message_for(
        result((a, b), fixed=(org,), before=(org, a, b), previous=Status.DRIFT, remediation=rem)
    )
    assert message.title == f"SMTP AUTH remediation failed in {DOMAIN}"
    headings = [s.heading for s in message.sections]
    assert headings == ["Fixed by remediation (1)", "Remediation held (1)", "Remediation failed (1)"]
    text = "\n".join(card_texts(card.payload(message)))
    assert "changed SMTP AUTH ON → off: done and read back" in text
    assert "held, SMTP AUTH stays ON (remediation would set off)" in text
    assert "Sign-ins: a@contoso.com on 2026-11-26 09:00 UTC from 198.51.100.20 (Authenticated SMTP)" in text
    assert "access denied" in text and "Sign-in evidence read for 30 days." in text
    assert f"smtp-auth-guard audit --tenant {TENANT}" in text
    html = mail_html.render(message).html
    assert "198.51.100.20" in html and "Remediation held (1)" in html


def hostile_message() -> Message:
    hostile_address = "x*_[a](https://evil.example)<script>alert(1)</script>@contoso.com"
    r = result(findings(hostile_address, NON_LATIN + "@contoso.com", "y" * 400 + "@contoso.com"))
    rem = outcome(action(r.findings[0], ActionStatus.HELD, HOSTILE, users=[HOSTILE]))
    message = message_for(replace(r, remediation=rem))
    return with_undelivered(message, [Undelivered(HOSTILE, "teams", NOW, HOSTILE, 8)])


def test_hostile_text_cannot_format_link_or_script_in_the_card():
    message = hostile_message()
    posted = json.loads(card.payload(message))
    kinds = {node["type"] for node in elements(posted)}
    # Only elements that do not read Markdown hold text; no run is clickable.
    assert "TextBlock" not in kinds and "FactSet" not in kinds and "RichTextBlock" in kinds
    runs = text_runs(posted)
    assert runs and all(set(run) <= {"type", "text", "weight", "size", "color", "isSubtle"} for run in runs)
    joined = "\n".join(card_texts(card.payload(message)))
    # Shown as it is: no backslash escape anywhere (Teams mobile would show it).
    assert "\\" not in joined
    assert "**bold** _it_ [click](https:\u2060//evil.example/x) <script>alert('x')</script> &amp;" in joined
    assert "| table | `code` # heading ~~strike~~" in joined
    # Adaptive Cards' own text functions stay text.
    assert "{{DATE(" not in joined and "{\u2060{DATE(2017-02-14T06:08:39Z, SHORT)}}" in joined
    # No newline or bidi override from the data; non-Latin text shown as is; long text clipped.
    assert "\u202e" not in joined and "second line" in joined and "\nsecond" not in joined
    assert NON_LATIN in joined
    assert "y" * 400 not in joined and "y" * 250 in joined and "…" in joined
    # The card's own emphasis comes from properties: the listed names are bold runs.
    names = [run["text"] for run in runs if run.get("weight") == "Bolder" and run["text"].startswith("• ")]
    assert "• x*_[a](https:\u2060//evil.example)<script>alert(1)</script>@contoso.com" in names


def test_a_mailbox_name_reads_the_same_on_every_client():
    """The case Teams mobile got wrong: an underscore and a dash, no escapes."""
    message = message_for(result(findings("svc_scan-01@contoso.com")))
    texts = card_texts(card.payload(message))
    assert any(t.startswith("• svc_scan-01@contoso.com · ") for t in texts)
    assert not [t for t in texts if "\\" in t]
    steps = [t for t in texts if t.startswith("smtp-auth-guard") or "Set-CASMailbox -Identity" in t]
    assert steps and all("\\-" not in t for t in steps)


def test_hostile_text_is_html_escaped_in_the_email():
    html = mail_html.render(hostile_message()).html
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<a " not in html and "[click](https:\u2060//evil.example/x)" in html  # not a clickable URL
    assert "&amp;amp;" in html  # the literal "&amp;" is shown, not decoded
    assert NON_LATIN in html
    assert "\u202e" not in html


def test_thousands_of_findings_are_cut_down_under_the_limit():
    addresses = [f"user{i:05d}-{NON_LATIN}@contoso.com" for i in range(5000)]
    message = message_for(result(findings(*addresses)))
    full = card.size(message)
    assert full > 10 * card.LIMIT_BYTES
    body = card.payload(message)
    assert len(body) <= card.LIMIT_BYTES < 28 * 1024
    (section,) = [s for s in card.fitted(message).sections if s.heading.startswith("New drift")]
    assert section.heading == "New drift (5,000)"
    assert len(section.lines) + section.more == 5000 and section.more > 4000
    assert f"… and {section.more:,} more" in card_texts(body)
    assert len(card.payload(message, limit=8_000)) <= 8_000


def test_thousands_of_findings_fit_one_outbox_property_as_whole_json():
    message = message_for(result(findings(*(f"user{i:05d}-{NON_LATIN}@contoso.com" for i in range(5000)))))
    payload = outbox_payload(message)
    assert len(message.to_json()) > MAX_PAYLOAD_CHARS >= len(payload)
    kept = Message.from_json(payload)
    (section,) = [s for s in kept.sections if s.heading.startswith("New drift")]
    assert kept.title == message.title and len(section.lines) + section.more == 5000


def test_even_a_card_of_long_hostile_lines_fits():
    long_lines = [f"{HOSTILE}{'ß' * 300}{i}@contoso.com" for i in range(300)]
    message = message_for(result(findings(*long_lines)))
    assert len(card.payload(message)) <= card.LIMIT_BYTES
    assert len(card.payload(message, limit=1_500)) <= 1_500  # falls back to title and summary


def test_message_survives_the_outbox_round_trip():
    message = hostile_message()
    assert Message.from_json(message.to_json()) == message


def test_clean_strips_controls_and_clips():
    assert clean("a\r\n\tb\x00c\u2028d") == "a b c d"
    assert clean("x" * 20, 10) == "x" * 9 + "…"


def test_digest_lists_exceptions_expiring_within_fourteen_days():
    today = NOW.date()
    exceptions = tuple(
        MailboxException(
            f"exception:{i}", f"{name}@contoso.com", None, reason, "ciso@contoso.com", expires, "CHG-1"
        )
        for i, (name, reason, expires) in enumerate(
            [
                ("scanner", "MFP scan to mail", today + timedelta(days=3)),
                ("erp", HOSTILE, today + timedelta(days=14)),
                ("fax", "fax gateway", today + timedelta(days=15)),
                ("old", "gone", today - timedelta(days=1)),
            ]
        )
    )
    policy = replace(POLICY, exceptions=exceptions)
    (drift,) = findings("rogue@contoso.com")
    digest = TenantDigest(
        policy=policy,
        status=Status.DRIFT,
        last_checked=NOW - timedelta(minutes=10),
        last_success=NOW - timedelta(minutes=10),
        open_findings=[(drift, NOW - timedelta(days=5))],
        org_actual=True,
    )
    message = compose_digest(digest, NOW)
    assert message.title == f"Weekly SMTP AUTH summary: {DOMAIN}"
    assert message.summary == "drift: 1 open finding; 2 exceptions expiring within 14 days"
    sections = {s.heading: [line.text for line in s.lines] for s in message.sections}
    assert sections == {
        "Open drift (1)": ["rogue@contoso.com"],
        "Expiring within 14 days (2)": ["scanner@contoso.com", "erp@contoso.com"],
        "Expired (1)": ["old@contoso.com"],
        "Other approved exceptions (1)": ["fax@contoso.com"],
    }
    text = "\n".join(card_texts(card.payload(message)))
    assert "Last successful check: 2026-11-28 08:50 UTC" in text
    assert "expires 2026-12-01 (in 3 days)" in text and "since 2026-11-23 09:00 UTC" in text
    assert "<script>" in text  # shown as text after unescaping, never as markup
    assert "&lt;script&gt;" in mail_html.render(message).html


@pytest.mark.parametrize("status", [Status.COMPLIANT, Status.ERROR, None])
def test_digest_of_a_quiet_or_failing_tenant(status):
    digest = TenantDigest(
        POLICY, status, NOW if status else None, NOW - timedelta(days=2) if status else None
    )
    message = compose_digest(digest, NOW)
    expected = {Status.COMPLIANT: "compliant", Status.ERROR: "could not check", None: "not checked yet"}
    assert message.summary == expected[status]
    assert len(card.payload(message)) < card.LIMIT_BYTES
    assert date(2026, 11, 28).isoformat() in message.footer


def test_a_hygiene_finding_names_its_approval_as_the_policy_not_the_org():
    from shared.core.model import Finding, FindingKind
    from shared.notify.compose import finding_line

    at_risk = Finding(FindingKind.EXCEPTION_USES_BASIC_AUTH, "scanner@contoso.com", False, None, "…")
    assert "SMTP AUTH ON, policy: approved exception" in finding_line(at_risk).detail
    drift = Finding(FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION, "rogue@contoso.com", False, None, "…")
    assert "SMTP AUTH ON, policy: follows the org" in finding_line(drift).detail
