"""Remediation's guard rails that are decisions, driven with plain values."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.core import remediation
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
from shared.core.remediation import (
    GUARDS,
    Budget,
    EvidenceState,
    PlanContext,
    actions_for,
    approved_exception,
    approved_mailboxes_on_org_switch,
    change_limit,
    evidence_unavailable,
    mailbox_user_used_smtp_auth,
    needs_evidence,
    org_followers_used_smtp_auth,
    org_switch_never_enabled,
    plan,
    refusal,
    takes_smtp_auth_away,
    unseen_mailbox,
)

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
T = "contoso.onmicrosoft.com"


def tenant(**fields) -> TenantPolicy:
    """The tenant's policy acting at once (GraceHours 0): these tests are about the
    guards a grace period cannot replace; the grace has its own (test_grace_period.py)."""
    return TenantPolicy(T, T, **{"grace_hours": 0, **fields})


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
    policy = tenant(exceptions=tuple(exceptions), **policy_kw)
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
    policy = tenant(exceptions=(exc(printer),))
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


# -- each guard on its own ---------------------------------------------------------------

ORG_OFF = Action(ActionKind.SET_ORG, "organization", False, True, FindingKind.ORG_SETTING_DRIFT)
ORG_ON = Action(ActionKind.SET_ORG, "organization", True, False, FindingKind.ORG_SETTING_DRIFT)
BUDGET = Budget(25)


def fix(m: MailboxSetting, kind: FindingKind = FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION) -> Action:
    return Action(ActionKind.SET_MAILBOX, m.address, False, True, kind, m.guid)


def context(mailboxes, exceptions=(), evidence=None, *, actions=(ORG_OFF,), org=False, **policy_kw):
    policy = tenant(exceptions=tuple(exceptions), **policy_kw)
    observed = Observation(T, org, len(mailboxes), tuple(mailboxes))
    return PlanContext.of(actions, policy, observed, evidence or Evidence(True, 30), NOW)


def test_remediation_never_turns_smtp_auth_on_for_the_organization():
    # An allowed org value (--allow-org-smtp-auth) is an accepted deviation: reported, not enforced.
    ctx = context([], actions=(ORG_ON,), org=True, desired_org_disabled=False)
    held = org_switch_never_enabled(ORG_ON, ctx, BUDGET)
    assert held is not None and held.status is ActionStatus.HELD
    assert "never turns it on for the whole organization" in held.reason
    assert "--disallow-org-smtp-auth" in held.reason and "nothing is written" in held.reason
    assert org_switch_never_enabled(ORG_OFF, ctx, BUDGET) is None
    assert org_switch_never_enabled(fix(mb("rogue", False)), ctx, BUDGET) is None


def test_an_allowed_org_value_with_the_switch_off_plans_no_write_and_keeps_the_finding():
    results, _ = run([], org=True, desired_org_disabled=False)
    (org,) = results
    assert (org.action.kind, org.action.before, org.action.after) == (ActionKind.SET_ORG, True, False)
    assert org.status is ActionStatus.HELD and org.held_by == "org_switch_never_enabled"
    assert (
        plan([org.action], tenant(desired_org_disabled=False), Observation(T, True, 0, ()), None, NOW).planned
        == ()
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([True, False, None]), max_size=6),
    st.sampled_from([True, False]),
    st.sampled_from([True, False]),
    st.sampled_from([True, None]),  # MailboxFix disable / org-default
)
def test_no_planned_action_ever_turns_smtp_auth_on(values, org, desired, mailbox_fix):
    """Whatever the desired state says: the org switch is never planned off->on, and no
    mailbox is ever planned to an explicit ON override."""
    mailboxes = [mb(f"m{i}", v) for i, v in enumerate(values)]
    results, _ = run(mailboxes, org=org, desired_org_disabled=desired, mailbox_fix_value=mailbox_fix)
    for r in results:
        if r.status is ActionStatus.PLANNED:
            assert r.action.after is not False, r


def test_unseen_mailbox_refuses_only_a_mailbox_this_run_did_not_see():
    seen, ghost = mb("seen", False), mb("ghost", False)
    ctx = context([seen])
    held = unseen_mailbox(fix(ghost), ctx, BUDGET)
    assert held is not None and held.status is ActionStatus.HELD and "not in this run" in held.reason
    upper = Action(
        ActionKind.SET_MAILBOX,
        seen.address,
        False,
        True,
        FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION,
        seen.guid.upper(),
    )
    assert unseen_mailbox(upper, ctx, BUDGET) is None  # GUIDs compare case-insensitively
    assert unseen_mailbox(ORG_OFF, ctx, BUDGET) is None


def test_approved_exception_refuses_a_live_exception_only():
    printer, lapsed, rogue = mb("printer", False), mb("lapsed", False), mb("rogue", False)
    ctx = context([printer, lapsed, rogue], [exc(printer), exc(lapsed, NOW.date() - timedelta(days=1))])
    held = approved_exception(fix(printer), ctx, BUDGET)
    assert held is not None and held.reason == "approved exception: never touched"
    assert approved_exception(fix(lapsed, FindingKind.MAILBOX_EXCEPTION_EXPIRED), ctx, BUDGET) is None
    assert approved_exception(fix(rogue), ctx, BUDGET) is None
    assert approved_exception(ORG_OFF, ctx, BUDGET) is None


def test_evidence_unavailable_holds_what_takes_smtp_auth_away_when_the_tenant_says_hold():
    rogue = mb("rogue", False)
    missing = Evidence(False, 30, problem="HTTP 403")
    ctx = context([rogue], evidence=missing, actions=(ORG_OFF, fix(rogue)))
    assert ctx.evidence is EvidenceState.HOLD
    for action in (ORG_OFF, fix(rogue)):
        held = evidence_unavailable(action, ctx, BUDGET)
        assert held is not None and held.reason == ctx.note and "403" in held.reason
    assert evidence_unavailable(ORG_ON, ctx, BUDGET) is None  # turning SMTP AUTH on cuts nobody off
    proceed = context([rogue], evidence=missing, when_evidence_unavailable=EvidencePolicy.PROCEED)
    assert proceed.evidence is EvidenceState.PROCEED and "proceeding" in proceed.note
    assert evidence_unavailable(fix(rogue), proceed, BUDGET) is None
    assert evidence_unavailable(fix(rogue), context([rogue]), BUDGET) is None  # evidence read
    # Nothing needs the evidence: its absence holds nothing and says nothing.
    quiet = context([], evidence=missing, actions=(ORG_ON,))
    assert (quiet.evidence, quiet.note) == (EvidenceState.NOT_NEEDED, "")


def test_approved_mailboxes_on_org_switch_hold_turning_it_off():
    riding, own = mb("printer", None), mb("scanner", False)
    ctx = context([riding, own], [exc(riding), exc(own)])
    held = approved_mailboxes_on_org_switch(ORG_OFF, ctx, BUDGET)
    assert held is not None and riding.address in held.reason and own.address not in held.reason
    assert f"Set-CASMailbox -Identity {riding.guid} -SmtpClientAuthenticationDisabled $false" in held.reason
    assert approved_mailboxes_on_org_switch(ORG_ON, ctx, BUDGET) is None
    assert approved_mailboxes_on_org_switch(fix(own), ctx, BUDGET) is None
    # With its own override it no longer depends on the org switch.
    assert approved_mailboxes_on_org_switch(ORG_OFF, context([own], [exc(own)]), BUDGET) is None


def test_org_followers_who_used_smtp_auth_hold_turning_it_off():
    follower, own = mb("alice", None), mb("printer", False)
    ctx = context([follower, own], evidence=Evidence(True, 30, (used(follower), used(own))))
    held = org_followers_used_smtp_auth(ORG_OFF, ctx, BUDGET)
    assert held is not None and held.evidence == (used(follower),)  # the override's user is not affected
    assert follower.address.upper() in held.reason and "last 30 days" in held.reason
    assert org_followers_used_smtp_auth(ORG_ON, ctx, BUDGET) is None
    assert org_followers_used_smtp_auth(fix(own), ctx, BUDGET) is None
    only_own = context([own], evidence=Evidence(True, 30, (used(own),)))
    assert org_followers_used_smtp_auth(ORG_OFF, only_own, BUDGET) is None


def test_mailbox_user_who_used_smtp_auth_holds_its_mailbox():
    printer, rogue = mb("printer", False), mb("rogue", False)
    ctx = context([printer, rogue], evidence=Evidence(True, 14, (used(printer, by_id=True),)))
    held = mailbox_user_used_smtp_auth(fix(printer, FindingKind.MAILBOX_EXCEPTION_EXPIRED), ctx, BUDGET)
    assert held is not None and held.evidence == (used(printer, by_id=True),)
    assert "last 14 days" in held.reason and "renew it" in held.reason
    assert mailbox_user_used_smtp_auth(fix(rogue), ctx, BUDGET) is None
    assert mailbox_user_used_smtp_auth(ORG_OFF, ctx, BUDGET) is None


def test_change_limit_holds_mailbox_changes_once_the_budget_is_spent():
    rogue = mb("rogue", False)
    ctx = context([rogue], max_changes_per_run=2)
    held = change_limit(fix(rogue), ctx, Budget(0))
    assert held is not None and "limit of 2 mailbox changes per run" in held.reason
    assert change_limit(fix(rogue), ctx, Budget(1)) is None
    assert change_limit(ORG_OFF, ctx, Budget(0)) is None  # the org switch is not a mailbox change
    assert Budget(1).after(fix(rogue)) == Budget(0) and Budget(1).after(ORG_OFF) == Budget(1)


# -- the order of the guards --------------------------------------------------------------


def test_guards_run_in_the_order_the_module_documents():
    documented = re.findall(r"^\d+\. ``(\w+)``", remediation.__doc__ or "", re.MULTILINE)
    assert documented == [guard.__name__ for guard in GUARDS]
    assert GUARDS[-1] is change_limit


def test_an_approved_mailbox_whose_user_signed_in_is_held_as_an_approved_exception():
    printer = mb("printer", False)
    (result,) = plan(
        [fix(printer)],
        tenant(exceptions=(exc(printer),)),
        Observation(T, True, 1, (printer,)),
        Evidence(True, 30, (used(printer),)),
        NOW,
    ).results
    assert result.status is ActionStatus.HELD
    assert result.reason == "approved exception: never touched" and result.evidence == ()


def test_the_first_guard_that_refuses_gives_the_reason():
    printer, ghost, rogue, riding, follower = (
        mb("printer", False),
        mb("ghost", False),
        mb("rogue", False),
        mb("scanner", None),
        mb("alice", None),
    )

    def reason(action, ctx, budget=BUDGET):
        held = refusal(action, ctx, budget)
        assert held is not None and held.status is ActionStatus.HELD
        return held.reason

    # Evidence unavailable and held: an unseen or approved mailbox still says what it is.
    missing = context([printer], [exc(printer)], Evidence(False, 30, problem="HTTP 403"))
    assert "not in this run" in reason(fix(ghost), missing)
    assert reason(fix(printer), missing) == "approved exception: never touched"
    assert "403" in reason(ORG_OFF, missing)
    # An approved mailbox riding on the org switch comes before the followers' usage.
    both = context([riding, follower], [exc(riding)], Evidence(True, 30, (used(follower),)))
    assert "approved mailbox(es) have no override" in reason(ORG_OFF, both)
    # With the budget spent, a mailbox another guard holds still says why that guard holds it.
    spent = context([printer, rogue], [exc(printer)], Evidence(True, 30, (used(rogue),)))
    assert reason(fix(printer), spent, Budget(0)) == "approved exception: never touched"
    assert "its user signed in" in reason(fix(rogue), spent, Budget(0))
    assert refusal(ORG_OFF, context([rogue]), Budget(0)) is None  # passes them all


def test_plan_lists_what_to_attempt():
    rogue, used_it = mb("rogue", False), mb("printer", False)
    decided = plan(
        [ORG_OFF, fix(rogue), fix(used_it)],
        tenant(),
        Observation(T, False, 2, (rogue, used_it)),
        Evidence(True, 30, (used(used_it),)),
        NOW,
    )
    assert [r.action for r in decided.results] == [ORG_OFF, fix(rogue), fix(used_it)]
    assert decided.planned == (ORG_OFF, fix(rogue)) and decided.note == ""


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([None, True, False]), max_size=20),
    st.sets(st.integers(0, 24)),  # approved (an index past the observed list: an unseen mailbox)
    st.sets(st.integers(0, 24)),  # used SMTP AUTH recently
    st.sets(st.integers(0, 24)),  # asked for explicitly, whatever the findings say
    st.integers(0, 10),
    st.booleans(),
    st.sampled_from(["read", "unavailable", "none"]),
    st.sampled_from(list(EvidencePolicy)),
)
def test_guard_rails_hold_for_any_asked_actions_and_evidence(
    values, approved_idx, used_idx, asked_idx, limit, org, evidence_kind, when_unavailable
):
    everyone = [mb(f"u{i}", values[i] if i < len(values) else False) for i in range(25)]
    observed = everyone[: len(values)]
    policy = tenant(
        exceptions=tuple(exc(m) for i, m in enumerate(everyone) if i in approved_idx),
        max_changes_per_run=limit,
        when_evidence_unavailable=when_unavailable,
    )
    observation = Observation(T, org, len(observed), tuple(observed))
    actions = actions_for(evaluate(policy, observation, NOW), policy)
    actions += [fix(everyone[i]) for i in sorted(asked_idx)]
    recent = tuple(used(m) for i, m in enumerate(everyone) if i in used_idx)
    evidence = {
        "read": Evidence(True, 30, recent),
        "unavailable": Evidence(False, 30, problem="HTTP 403"),
        "none": None,
    }[evidence_kind]

    decided = plan(actions, policy, observation, evidence, NOW)

    assert [r.action for r in decided.results] == actions  # one result each, in the order asked
    mailboxes = [a for a in decided.planned if a.kind is ActionKind.SET_MAILBOX]
    targets = {a.target for a in mailboxes}
    assert not targets & {m.address for i, m in enumerate(everyone) if i in approved_idx}
    assert targets <= {m.address for m in observed}  # never a mailbox this run did not see
    if evidence_kind == "read":
        assert not targets & {m.address for i, m in enumerate(everyone) if i in used_idx}
    elif when_unavailable is EvidencePolicy.HOLD:
        assert not [a for a in decided.planned if takes_smtp_auth_away(a)]
    assert len(mailboxes) <= limit
    if any("limit of" in r.reason for r in decided.results):
        assert len(mailboxes) == limit  # only planned changes use up the budget
