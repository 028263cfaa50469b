"""Remediation's guard rails that are decisions, driven with plain values."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.core.model import (
    Action,
    ActionKind,
    ActionStatus,
    Evidence,
    EvidencePolicy,
    FindingKind,
    MailboxException,
    MailboxSetting,
    Observation,
    SignInEvidence,
    TenantPolicy,
)
from shared.core.policy import evaluate
from shared.core.remediation import actions_for, needs_evidence, plan

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
T = "contoso.onmicrosoft.com"


def mb(name: str, disabled: bool | None) -> MailboxSetting:
    guid = str(uuid.uuid5(uuid.NAMESPACE_DNS, name))
    return MailboxSetting(
        guid, f"{name}@contoso.com", disabled, external_id=str(uuid.uuid5(uuid.NAMESPACE_URL, name))
    )


def exc(m: MailboxSetting, expires: date = date(2027, 1, 1)) -> MailboxException:
    return MailboxException(f"exception:{m.guid}", m.address, m.guid, "scanner", "ciso@contoso.com", expires)


def used(m: MailboxSetting, *, by_id: bool = False, days_ago: int = 1) -> SignInEvidence:
    return SignInEvidence(
        user="" if by_id else m.address.upper(),
        user_id=m.external_id if by_id else "",
        at=NOW - timedelta(days=days_ago),
        ip_address="198.51.100.20",
    )


def run(mailboxes, exceptions=(), *, org=True, evidence=None, **policy_kw):
    policy = TenantPolicy(T, T, exceptions=tuple(exceptions), **policy_kw)
    observed = Observation(T, org, len(mailboxes), tuple(mailboxes))
    actions = actions_for(evaluate(policy, observed, NOW), policy)
    if evidence is None and needs_evidence(actions):
        evidence = Evidence(True, policy.evidence_days)
    decided = plan(actions, policy, observed, evidence, NOW)
    return decided.results, decided.note


def by_target(results):
    return {r.action.target: r for r in results}


def test_actions_follow_findings_and_leave_approved_and_unused_alone():
    rogue, approved, expired, unused = (
        mb("rogue", False),
        mb("printer", False),
        mb("erp", False),
        mb("old", True),  # approved but its own override keeps SMTP AUTH off: unused
    )
    results, note = run(
        [rogue, approved, expired, unused],
        [exc(approved), exc(expired, date(2026, 1, 1)), exc(unused)],
        org=False,
    )
    assert note == ""
    got = by_target(results)
    assert set(got) == {"organization", rogue.address, expired.address}
    assert got["organization"].action.kind is ActionKind.SET_ORG
    assert (got["organization"].action.before, got["organization"].action.after) == (False, True)
    assert got[rogue.address].action.after is True
    assert all(r.status is ActionStatus.PLANNED for r in results)
    assert "Set-CASMailbox -Identity " + rogue.guid in got[rogue.address].reason


def test_org_switch_held_while_an_approved_mailbox_relies_on_it():
    printer = mb("printer", None)  # approved, but no override of its own: the org switch carries it
    (result,), _ = run([printer], [exc(printer)], org=False)
    assert result.action.kind is ActionKind.SET_ORG and result.status is ActionStatus.HELD
    assert (
        f"Set-CASMailbox -Identity {printer.guid} -SmtpClientAuthenticationDisabled $false" in result.reason
    )


def test_planner_refuses_approved_or_unseen_mailboxes_even_if_asked():
    printer, ghost = mb("printer", False), mb("ghost", False)
    policy = TenantPolicy(T, T, exceptions=(exc(printer),))
    asked = [
        Action(
            ActionKind.SET_MAILBOX,
            m.address,
            False,
            True,
            FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION,
            m.guid,
        )
        for m in (printer, ghost)
    ]
    results = plan(asked, policy, Observation(T, True, 1, (printer,)), Evidence(True, 30), NOW).results
    assert [r.status for r in results] == [ActionStatus.HELD, ActionStatus.HELD]
    assert "approved exception" in results[0].reason and "not in this run" in results[1].reason


def test_org_users_exclude_every_own_override():
    off = mb("off", True)  # already has SMTP AUTH off: the org switch changes nothing for it
    (result,), _ = run([off], org=False, evidence=Evidence(True, 30, (used(off),)))
    assert result.status is ActionStatus.PLANNED and "no successful SMTP AUTH sign-in" in result.reason


def test_one_action_per_mailbox_even_if_listed_twice():
    rogue = mb("rogue", False)
    results, _ = run([rogue, rogue])
    assert len(results) == 1


def test_mailbox_fix_may_be_null():
    (result,), _ = run([mb("rogue", False)], mailbox_fix_value=None)
    assert result.action.after is None and "$null" in result.reason


def test_recent_user_holds_the_mailbox_action_and_says_who_when_where():
    printer = mb("printer", False)
    for evidence_entry in (used(printer), used(printer, by_id=True)):
        (result,), _ = run([printer], evidence=Evidence(True, 30, (evidence_entry,)))
        assert result.status is ActionStatus.HELD
        assert "198.51.100.20" in result.reason and "2026-11-27" in result.reason
        assert f"exception add --tenant {T} --mailbox {printer.address}" in result.reason
        assert result.evidence == (evidence_entry,)


def test_org_action_held_for_users_who_follow_the_org_but_not_for_overrides():
    follower, approved = mb("alice", None), mb("printer", False)
    results, _ = run(
        [follower, approved], [exc(approved)], org=False, evidence=Evidence(True, 30, (used(approved),))
    )
    assert by_target(results)["organization"].status is ActionStatus.PLANNED
    results, _ = run([approved], [exc(approved)], org=False, evidence=Evidence(True, 30, (used(follower),)))
    held = by_target(results)["organization"]
    assert held.status is ActionStatus.HELD and follower.address.upper() in held.reason


def test_evidence_unavailable_follows_the_tenant_setting():
    rogue = mb("rogue", False)
    missing = Evidence(False, 30, problem="HTTP 403 Authentication_RequestFromNonPremiumTenantOrB2CTenant")
    (held,), note = run([rogue], evidence=missing)
    assert held.status is ActionStatus.HELD and "held" in note and "403" in note
    (done,), note = run([rogue], evidence=missing, when_evidence_unavailable=EvidencePolicy.PROCEED)
    assert done.status is ActionStatus.PLANNED and "proceeding" in note


def test_limit_holds_the_rest_and_evidence_holds_do_not_use_it_up():
    mailboxes = [mb(f"m{i:02d}", False) for i in range(30)]
    evidence = Evidence(True, 30, (used(mailboxes[0]), used(mailboxes[1])))
    results, _ = run(mailboxes, evidence=evidence, max_changes_per_run=25)
    statuses = [r.status for r in results]
    assert statuses.count(ActionStatus.PLANNED) == 25
    limited = [r for r in results if "limit of 25" in r.reason]
    assert len(limited) == 3 and all(r.status is ActionStatus.HELD for r in limited)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([None, True, False]), max_size=30),
    st.sets(st.integers(0, 29)),
    st.sets(st.integers(0, 29)),
    st.integers(0, 10),
    st.booleans(),
)
def test_guard_rails_hold_for_any_tenant(values, approved_idx, used_idx, limit, org):
    mailboxes = [mb(f"u{i}", v) for i, v in enumerate(values)]
    exceptions = [exc(m) for i, m in enumerate(mailboxes) if i in approved_idx]
    evidence = Evidence(True, 30, tuple(used(m) for i, m in enumerate(mailboxes) if i in used_idx))
    results, _ = run(mailboxes, exceptions, org=org, evidence=evidence, max_changes_per_run=limit)
    approved = {m.address for i, m in enumerate(mailboxes) if i in approved_idx}
    recent = {m.address for i, m in enumerate(mailboxes) if i in used_idx}
    planned = [
        r for r in results if r.status is ActionStatus.PLANNED and r.action.kind is ActionKind.SET_MAILBOX
    ]
    assert not {r.action.target for r in planned} & approved  # approved exceptions never touched
    assert not {r.action.target for r in planned} & recent  # recent users never cut off
    assert len(planned) <= limit
    assert all(r.status in (ActionStatus.PLANNED, ActionStatus.HELD) for r in results)
    assert all(r.action.finding_kind is not FindingKind.EXCEPTION_UNUSED for r in results)
