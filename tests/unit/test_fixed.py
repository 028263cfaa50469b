"""What a remediating run reports: a finding fixed and read back is fixed, not open;
held, failed and skipped ones stay open; the history diff tells a fix once; every
message that counts open findings names them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from shared.core.diff import diff
from shared.core.fixed import after_remediation
from shared.core.model import ActionStatus, ChangeKind, FindingKind, Status
from shared.notify import card, mail_html
from shared.notify.compose import compose
from shared.notify.events import EventKind, Memory, derive
from shared.shell import report
from tests.cards import card_strings

from .notify_values import DOMAIN, POLICY, TENANT, action, findings, outcome, result

DAY = timedelta(hours=24)


def card_text(message) -> str:
    return "\n".join(card_strings(json.loads(card.payload(message)))).replace("\\", "")


def test_what_this_run_settled_of_an_interrupted_one_is_fixed_once_and_never_left_open():
    a, b = findings("a@contoso.com", "b@contoso.com")
    rem = replace(
        outcome(action(a, ActionStatus.APPLIED, "done by run r1, which was interrupted")), settled=(a,)
    )
    for observed in ((b,), (a, b)):
        # Not observed (fixed before this run's scan), or observed as drift too (changed
        # between the scan and the settling read): fixed, once.
        after = after_remediation(observed, rem, org_actual=False)
        assert (after.open, after.fixed) == ((b,), (a,))


def test_applied_is_fixed_and_everything_else_stays_open():
    org, a, b, c = findings("a@contoso.com", "b@contoso.com", "c@contoso.com", org_on=True)
    rem = outcome(
        action(org, ActionStatus.APPLIED),
        action(a, ActionStatus.APPLIED),
        action(b, ActionStatus.HELD),
        action(c, ActionStatus.SKIPPED),
    )
    after = after_remediation((org, a, b, c), rem, org_actual=False)
    assert after.fixed == (org, a)
    assert after.open == (b, c)
    assert after.org_actual is True  # the switch as it is now: fixed and read back

    failed = after_remediation((org,), outcome(action(org, ActionStatus.FAILED)), org_actual=False)
    assert (failed.open, failed.fixed, failed.org_actual) == ((org,), (), False)
    assert after_remediation((org, a), None, org_actual=False).open == (org, a)


def test_an_unused_exception_is_never_fixed_by_a_mailbox_action():
    (a,) = findings("a@contoso.com")
    unused = a.__class__(FindingKind.EXCEPTION_UNUSED, a.target, None, None, "unused", a.mailbox_guid)
    after = after_remediation((a, unused), outcome(action(a, ActionStatus.APPLIED)), org_actual=True)
    assert after.fixed == (a,) and after.open == (unused,)


def test_the_diff_tells_a_fix_once_neither_opened_nor_resolved():
    org, a, b = findings("a@contoso.com", "b@contoso.com", org_on=True)
    # a was open before and fixed now; org is new and fixed now; b is new and open.
    change = diff({a.key: a}, (b,), fixed=(org, a))
    assert (change.opened, change.resolved, change.unchanged, change.fixed) == ((b,), (), (), (org, a))
    assert [c.change for c in change.changes] == [ChangeKind.OPENED, ChangeKind.FIXED, ChangeKind.FIXED]
    # The next run finds nothing: nothing was left open, so nothing is "resolved" again.
    assert diff({b.key: b}, (b,)).resolved == ()


def test_a_remediating_check_reports_fixed_apart_from_open():
    org, a, b = findings("a@contoso.com", "b@contoso.com", org_on=True)
    rem = outcome(action(org, ActionStatus.APPLIED), action(a, ActionStatus.APPLIED))
    r = result((b,), fixed=(org, a), remediation=rem)
    doc = report.document([r])
    (res,) = doc["results"]
    assert doc["exit_code"] == 1 and res["status"] == "drift"
    assert [f["mailbox"] for f in res["findings"]] == ["b@contoso.com"]
    assert [f["mailbox"] for f in res["fixed"]] == ["organization", "a@contoso.com"]
    assert res["changes"]["fixed"] == 2 and res["changes"]["opened"] == 1
    text = report.text([r])
    open_table = text.split("Fixed by remediation")[0]
    assert "b@contoso.com" in open_table and "a@contoso.com" not in open_table
    assert "Fixed by remediation in this run and read back (2)" in text

    everything = result((), fixed=(org, a, b), remediation=rem)
    assert report.exit_code([everything]) == 0
    assert report.document([everything])["results"][0]["compliant"] is True


def test_the_card_lists_a_fixed_mailbox_only_as_fixed():
    org, a, b = findings("a@contoso.com", "b@contoso.com", org_on=True)
    rem = outcome(
        action(org, ActionStatus.APPLIED), action(a, ActionStatus.APPLIED), action(b, ActionStatus.HELD)
    )
    r = result((b,), fixed=(org, a), remediation=rem)
    events = derive(r, Memory(), first_seen={}, remind_every=DAY)
    assert [e.finding.target for e in events if e.kind is EventKind.DRIFT_OPENED] == ["b@contoso.com"]
    message = compose(r, events, remind_every=DAY)
    sections = {s.heading: [line.text for line in s.lines] for s in message.sections}
    assert sections["New drift (1)"] == ["b@contoso.com"]
    assert sections["Fixed by remediation (2)"] == ["Organization (Set-TransportConfig)", "a@contoso.com"]
    assert ("Open findings", "1") in message.facts


def test_a_partly_resolved_message_names_what_is_still_open_and_how_to_fix_it():
    a, b, c = findings("a@contoso.com", "b@contoso.com", "c@contoso.com")
    r = result((c,), before=(a, b, c), previous=Status.DRIFT)
    message = compose(r, derive(r, Memory(), first_seen={}, remind_every=DAY), remind_every=DAY)
    assert message.title == f"SMTP AUTH drift partly resolved in {DOMAIN}"
    assert "2 resolved, 1 open" in message.summary
    sections = {s.heading: [line.text for line in s.lines] for s in message.sections}
    assert sections["Still open (1)"] == ["c@contoso.com"]
    text = card_text(message)
    assert "Set-CASMailbox -Identity " + c.mailbox_guid in text
    assert "Set-CASMailbox -Identity " + c.mailbox_guid in mail_html.render(message).html
    assert f"exception add --tenant {TENANT} --mailbox c@contoso.com" in text


def test_open_findings_are_named_within_the_card_budget():
    many = findings(*(f"user{i:05}@contoso.com" for i in range(3000)))
    gone = findings("gone@contoso.com")
    r = result(many, before=(*many, *gone), previous=Status.DRIFT)
    message = compose(r, derive(r, Memory(), first_seen={}, remind_every=DAY), remind_every=DAY)
    assert len(card.payload(message)) <= card.LIMIT_BYTES
    text = card_text(card.fitted(message))
    assert "Still open (3,000)" in text and "user00000@contoso.com" in text and "more" in text
    assert POLICY.tenant_id in text
