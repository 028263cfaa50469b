"""The grace period: nothing turns SMTP AUTH off before GraceHours have passed since
its drift was first seen. Driven with plain values through the real plan(), rules,
composer, report and row loader."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.core.limits import GRACE_HOURS
from shared.core.model import (
    ActionStatus,
    Evidence,
    FindingKind,
    MailboxSetting,
    Mode,
    Observation,
    RemediationOutcome,
    SignInEvidence,
    TenantPolicy,
)
from shared.core.policy import evaluate
from shared.core.remediation import (
    actions_for,
    plan,
    remediation_start,
    takes_smtp_auth_away,
    waits_for_grace,
)
from shared.notify import card
from shared.notify.compose import compose
from shared.notify.events import Memory, derive
from shared.shell import report
from shared.store.rows import RowError, checked_tenant_row, parse_tenant_row, tenant_entity
from tests.cards import card_strings

from .notify_values import DOMAIN, POLICY, TENANT, result

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def mb(name: str, disabled: bool | None = False) -> MailboxSetting:
    return MailboxSetting(str(uuid.uuid5(uuid.NAMESPACE_DNS, name)), f"{name}@contoso.com", disabled)


def decide(mailboxes, *, org=True, first_seen=None, now=NOW, evidence=None, **policy_kw):
    policy = TenantPolicy(TENANT, DOMAIN, **policy_kw)
    observed = Observation(TENANT, org, len(mailboxes), tuple(mailboxes))
    findings = evaluate(policy, observed, now)
    actions = actions_for(findings, policy)
    decided = plan(actions, policy, observed, evidence or Evidence(True, 30), now, first_seen)
    return findings, {r.action.target: r for r in decided.results}


def test_drift_seen_first_by_this_run_waits_the_default_24_hours_with_its_due_time():
    rogue = mb("rogue")
    _, got = decide([rogue])
    held = got[rogue.address]
    assert held.status is ActionStatus.HELD and waits_for_grace(held)
    assert held.due == NOW + timedelta(hours=GRACE_HOURS.default) == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert held.reason.startswith(
        f"SMTP AUTH will be turned off for {rogue.address} at 2026-12-02 09:00 UTC unless an approved "
        "exception is recorded"
    )
    assert f"exception add --tenant {TENANT} --mailbox {rogue.address}" in held.reason


def test_the_first_seen_time_comes_from_the_history_and_the_first_run_after_due_acts():
    rogue = mb("rogue")
    findings, _ = decide([rogue])
    (key,) = [f.key for f in findings]
    seen = NOW - timedelta(hours=23, minutes=59)
    _, before = decide([rogue], first_seen={key: seen})
    assert before[rogue.address].status is ActionStatus.HELD
    assert before[rogue.address].due == seen + DAY
    _, after = decide([rogue], first_seen={key: seen}, now=seen + DAY)
    assert after[rogue.address].status is ActionStatus.PLANNED
    assert after[rogue.address].due == seen + DAY and after[rogue.address].held_by == ""


def test_another_findings_first_seen_time_does_not_count():
    # Expired yesterday: its drift is new, whatever an older finding of another kind said.
    rogue = mb("rogue")
    _, got = decide([rogue], first_seen={f"{FindingKind.EXCEPTION_UNUSED}:{rogue.guid}": NOW - 10 * DAY})
    assert got[rogue.address].status is ActionStatus.HELD and got[rogue.address].due == NOW + DAY


def test_grace_zero_acts_at_once():
    rogue = mb("rogue")
    _, got = decide([rogue], grace_hours=0)
    assert got[rogue.address].status is ActionStatus.PLANNED and got[rogue.address].due == NOW


def test_a_first_seen_time_in_the_future_counts_as_now():
    rogue = mb("rogue")
    findings, _ = decide([rogue])
    _, got = decide([rogue], first_seen={findings[0].key: NOW + 100 * DAY}, grace_hours=1)
    assert got[rogue.address].due == NOW + timedelta(hours=1)


def test_the_org_switch_keeps_its_holds_and_then_waits_the_same_grace():
    follower = mb("alice", None)
    used = SignInEvidence(follower.address, NOW - DAY, "198.51.100.20")
    _, got = decide([follower], org=False, evidence=Evidence(True, 30, (used,)))
    org = got["organization"]
    assert org.held_by == "org_followers_used_smtp_auth" and "would lose it" in org.reason
    assert org.due == NOW + DAY  # still said: no earlier than this, even once nobody uses it
    _, quiet = decide([follower], org=False)
    org = quiet["organization"]
    assert waits_for_grace(org) and org.due == NOW + DAY
    assert org.reason.startswith(
        "SMTP AUTH will be turned off for the organization (every mailbox without its own override) "
        "at 2026-12-02 09:00 UTC unless an approved exception is recorded"
    )
    _, later = decide([follower], org=False, first_seen={"org-setting-drift": NOW - DAY})
    assert later["organization"].status is ActionStatus.PLANNED


def test_an_allowed_org_switch_has_no_grace_and_is_never_turned_on():
    _, got = decide([], org=True, desired_org_disabled=False)
    org = got["organization"]
    assert not takes_smtp_auth_away(org.action)
    assert org.status is ActionStatus.HELD and org.held_by == "org_switch_never_enabled"
    assert org.due is None


def test_a_mailbox_waiting_for_its_grace_uses_none_of_the_change_limit():
    old, new = mb("old"), mb("new")
    findings, _ = decide([old, new])
    old_key = next(f.key for f in findings if f.target == old.address)
    _, got = decide([new, old], first_seen={old_key: NOW - 2 * DAY}, max_changes_per_run=1)
    assert got[old.address].status is ActionStatus.PLANNED
    assert waits_for_grace(got[new.address])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([True, False, None]), min_size=1, max_size=8),
    st.lists(st.integers(-1000 * 3600, 1000 * 3600), min_size=9, max_size=9),  # first seen, s from now
    st.integers(GRACE_HOURS.low, GRACE_HOURS.high),
    st.booleans(),
    st.booleans(),
    st.none() | st.integers(-1000 * 3600, 1000 * 3600),  # remediation began, s from now
)
def test_no_planned_action_is_due_before_its_grace_ends(values, offsets, grace, org, known, began):
    mailboxes = [mb(f"u{i}", v) for i, v in enumerate(values)]
    policy = TenantPolicy(TENANT, DOMAIN, grace_hours=grace, max_changes_per_run=1000)
    observed = Observation(TENANT, org, len(mailboxes), tuple(mailboxes))
    actions = actions_for(evaluate(policy, observed, NOW), policy)
    seen = {a.finding_key: NOW + timedelta(seconds=s) for a, s in zip(actions, offsets, strict=False)}
    first_seen = seen if known else {}

    since_start = None if began is None else NOW + timedelta(seconds=began)

    decided = plan(actions, policy, observed, Evidence(True, 30), NOW, first_seen, since_start)

    for r in decided.results:
        if not takes_smtp_auth_away(r.action):
            assert r.due is None and r.status is ActionStatus.PLANNED
            continue
        since = min(first_seen.get(r.action.finding_key, NOW), NOW)
        if since_start is not None:  # never before remediation began for the tenant
            since = max(since, min(since_start, NOW))
        assert r.due == since + timedelta(hours=grace)
        if r.status is ActionStatus.PLANNED:
            assert r.due <= NOW  # never before its grace ends
        else:
            assert waits_for_grace(r) and r.due > NOW  # held only by the grace, and said until when
        assert (r.status is ActionStatus.PLANNED) == (since + timedelta(hours=grace) <= NOW)


def test_drift_seen_in_report_mode_waits_its_grace_from_when_remediation_began():
    # Open for ten days in report mode; the tenant is switched to remediate now: it is
    # warned first, not fixed on the spot.
    rogue = mb("rogue")
    findings, _ = decide([rogue])
    first_seen = {findings[0].key: NOW - 10 * DAY}
    policy = TenantPolicy(TENANT, DOMAIN, mode=Mode.REMEDIATE)
    observed = Observation(TENANT, True, 1, (rogue,))
    actions = actions_for(evaluate(policy, observed, NOW), policy)
    (held,) = plan(actions, policy, observed, Evidence(True, 30), NOW, first_seen, NOW).results
    assert waits_for_grace(held) and held.due == NOW + DAY
    assert "drift first seen 2026-11-21 09:00 UTC, remediate mode since 2026-12-01 09:00 UTC" in held.reason
    (acted,) = plan(actions, policy, observed, Evidence(True, 30), NOW + DAY, first_seen, NOW).results
    assert acted.status is ActionStatus.PLANNED


def test_remediation_start_is_kept_until_the_tenant_goes_back_to_report_mode():
    began = NOW - 3 * DAY
    assert remediation_start(None, None, NOW) == (NOW, True)  # the first remediating run
    assert remediation_start(began, None, NOW) == (began, False)
    assert remediation_start(began, began - DAY, NOW) == (began, False)  # report mode before it
    assert remediation_start(began, began + DAY, NOW) == (NOW, True)  # back to report, then again


# -- what people are told --------------------------------------------------------------


def first_alert(grace_hours: int = 24):
    policy = TenantPolicy(TENANT, DOMAIN, mode=Mode.REMEDIATE, notify_email=POLICY.notify_email)
    rogue = mb("rogue")
    scanner = mb("scanner")
    used = SignInEvidence(scanner.address, NOW - DAY, "198.51.100.20", "Authenticated SMTP")
    findings, got = decide([rogue, scanner], evidence=Evidence(True, 30, (used,)), grace_hours=grace_hours)
    rem = RemediationOutcome(Mode.REMEDIATE, tuple(got.values()))
    r = result(findings, at=NOW, remediation=rem, policy=policy)
    events = derive(r, Memory(), first_seen={}, remind_every=DAY)
    return r, compose(r, events, remind_every=DAY), rogue, scanner


def test_the_first_alert_says_when_smtp_auth_will_be_turned_off_unless_an_exception_is_recorded():
    _, message, rogue, scanner = first_alert()
    headings = [s.heading for s in message.sections]
    assert headings == ["New drift (2)", "SMTP AUTH will be turned off (1)", "Remediation held (1)"]
    text = "\n".join(card_strings(json.loads(card.payload(message))))
    assert (
        f"SMTP AUTH will be turned off for {rogue.address} at 2026-12-02 09:00 UTC unless an approved "
        "exception is recorded"
    ) in text
    # The one its user signed in with is held for that, not scheduled.
    assert "its user signed in with SMTP AUTH" in text and scanner.address in text
    assert "remediation scheduled: 1" in message.summary and "remediation held: 1" in message.summary
    assert any("exception recorded before the time shown" in t for t in message.todo)


def test_a_tenant_with_no_grace_is_told_nothing_is_scheduled():
    _, message, _, _ = first_alert(grace_hours=0)
    assert not [s for s in message.sections if s.heading.startswith("SMTP AUTH will be turned off")]
    assert not any("before the time shown" in t for t in message.todo)


def test_plan_shows_each_actions_due_time_in_the_table_and_the_json():
    r, _, rogue, _ = first_alert()
    text = report.plan_text(r)
    header = next(line for line in text.splitlines() if "STATUS" in line and "ACTION" in line)
    assert header.split() == ["STATUS", "ACTION", "TARGET", "FROM", "TO", "DUE"]
    row = next(
        line for line in text.splitlines() if line.split()[:3] == ["HELD", "Set-CASMailbox", rogue.address]
    )
    assert row.rstrip().endswith("2026-12-02 09:00 UTC")
    actions = report.plan_document(r)["results"][0]["remediation"]["actions"]
    mine = next(a for a in actions if a["target"] == rogue.address)
    assert mine["due"] == "2026-12-02T09:00:00+00:00" and mine["held_by"] == "grace_period"


# -- the tenant row --------------------------------------------------------------------


def row(**columns):
    return {"PartitionKey": TENANT, "RowKey": "tenant", "InitialDomain": DOMAIN, **columns}


def test_grace_hours_defaults_to_24_for_rows_written_before_it_existed():
    assert parse_tenant_row(row()).grace_hours == 24
    assert parse_tenant_row(row(GraceHours="")).grace_hours == 24
    assert parse_tenant_row(row(GraceHours=0)).grace_hours == 0
    assert parse_tenant_row(row(GraceHours="48")).grace_hours == 48  # typed in Storage Explorer


@pytest.mark.parametrize("bad", [-1, GRACE_HOURS.high + 1, 1.5, "soon", True])
def test_a_bad_grace_hours_names_the_row_field_and_the_limit(bad):
    with pytest.raises(RowError) as caught:
        parse_tenant_row(row(GraceHours=bad))
    assert caught.value.field == "GraceHours"
    assert f"from 0 to {GRACE_HOURS.high}" in str(caught.value) and TENANT in str(caught.value)


def test_grace_hours_is_written_and_reads_back():
    policy = TenantPolicy(TENANT, DOMAIN, grace_hours=72)
    assert tenant_entity(policy)["GraceHours"] == 72
    assert parse_tenant_row(checked_tenant_row(policy)).grace_hours == 72
