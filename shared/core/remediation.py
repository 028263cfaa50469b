"""What remediation would do, and what it must not do. Pure: no I/O, no clock.

Only findings that break policy get an action (``actions_for``). ``plan`` then puts
each action through the guards below, in this order (``GUARDS``); the first that
refuses it holds it, with its reason, so an action two guards would stop is reported
by the earlier one: an approved mailbox whose user also signed in is held as an
approved exception, not for its usage.

1. ``org_switch_never_enabled``: remediation never turns SMTP AUTH ON for the whole
   organization. Policy says the org switch SHALL be off (CIS M365 6.5.4, SCuBA
   MS.EXO.5.1v1): a tenant row that allows it on (``--allow-org-smtp-auth``) records
   an accepted deviation, not a value to enforce, so the difference is reported and
   nothing is written;
2. ``unseen_mailbox``: fail closed: nothing is written to a mailbox this run did
   not see;
3. ``approved_exception``: a live exception's mailbox is never touched (it has no
   finding; an action that names one anyway is refused here);
4. ``evidence_unavailable``: when the sign-in evidence cannot be read, the tenant's
   setting decides: ``hold`` holds what turns SMTP AUTH off, ``proceed`` goes on;
5. ``approved_mailboxes_on_org_switch``: the org switch is not turned off while an
   approved mailbox has no override of its own and uses SMTP AUTH only through it;
6. ``org_followers_used_smtp_auth``: nor while an account that follows the org used
   SMTP AUTH in the evidence window (naming who, when and from where);
7. ``mailbox_user_used_smtp_auth``: a mailbox whose user used SMTP AUTH in the
   window is held, naming who, when and from where;
8. ``grace_period``: nothing turns SMTP AUTH off before ``grace_hours`` have passed
   since its drift was first seen (the run history's open findings say when; drift
   this run found first is seen now). OAuth SMTP senders leave no SMTP sign-in, so
   no evidence proves a mailbox unused: its owner gets the grace to record an
   exception. Held with the due time; the first run after it does the change;
9. ``change_limit``: at most ``max_changes_per_run`` mailbox changes; the rest are
   held for later runs. Last, so a mailbox another guard holds uses none of it.

Every result carries its ``due`` time (when the grace ends), planned or held.

The guard rails that need I/O (the lock, the re-read under it, the read-back) are in
shared.shell.remediator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property

from shared.core import commands
from shared.core.accounts import AccountIndex
from shared.core.model import (
    Action,
    ActionKind,
    ActionResult,
    ActionStatus,
    Evidence,
    EvidencePolicy,
    Finding,
    FindingKind,
    MailboxSetting,
    Observation,
    SignInEvidence,
    TenantPolicy,
)
from shared.core.policy import ExceptionIndex


def actions_for(findings: Iterable[Finding], policy: TenantPolicy) -> list[Action]:
    """One action per finding the rule catalogue calls remediable; org first, then by mailbox.
    A mailbox listed twice still gets one action."""
    actions: dict[str, Action] = {}
    for finding in findings:
        if not finding.kind.rule.remediable:
            continue
        if finding.kind is FindingKind.ORG_SETTING_DRIFT:
            actions["org"] = Action(
                ActionKind.SET_ORG, "organization", finding.actual, policy.desired_org_disabled, finding.kind
            )
        elif finding.mailbox_guid:
            actions.setdefault(
                finding.mailbox_guid.lower(),
                Action(
                    ActionKind.SET_MAILBOX,
                    finding.target,
                    finding.actual,
                    policy.mailbox_fix_value,
                    finding.kind,
                    mailbox_guid=finding.mailbox_guid,
                ),
            )
    return sorted(actions.values(), key=lambda a: (a.kind is not ActionKind.SET_ORG, a.target.lower()))


def takes_smtp_auth_away(action: Action) -> bool:
    if action.kind is ActionKind.SET_ORG:
        return action.after is True
    return True  # a mailbox action always removes the override that turned it on


def needs_evidence(actions: Iterable[Action]) -> bool:
    return any(takes_smtp_auth_away(a) for a in actions)


def _who(sign_ins: Sequence[SignInEvidence], limit: int = 5) -> str:
    shown = [
        f"{s.user or s.user_id} on {s.at:%Y-%m-%d %H:%M} UTC from {s.ip_address}" for s in sign_ins[:limit]
    ]
    more = f" and {len(sign_ins) - limit} more" if len(sign_ins) > limit else ""
    return "; ".join(shown) + more


def _org_users(observed: Observation, sign_ins: Sequence[SignInEvidence]) -> list[SignInEvidence]:
    """Recent SMTP AUTH users who would lose it with the org switch: those whose
    mailbox follows the org. An own override either keeps SMTP AUTH on ($false) or
    already has it off ($true): the org switch changes nothing for them."""
    own = [m for m in observed.mailboxes if m.smtp_auth_disabled is not None]
    names = {m.address.lower() for m in own}
    ids = {m.external_id.lower() for m in own if m.external_id}
    return [
        s for s in sign_ins if s.user.lower() not in names and (not s.user_id or s.user_id.lower() not in ids)
    ]


def _exceptions_riding_on_org(context: PlanContext) -> list[MailboxSetting]:
    """Approved mailboxes that use SMTP AUTH only because the org switch is on: no
    override of their own. Turning the org switch off would break them."""
    return [m for m in context.observed.mailboxes if m.smtp_auth_disabled is None and context.live.covers(m)]


class EvidenceState(StrEnum):
    """What the plan knows about recent SMTP AUTH use."""

    READ = "read"  # the sign-in logs were read: their sign-ins decide
    HOLD = "hold"  # needed but unavailable; the tenant says hold what turns SMTP AUTH off
    PROCEED = "proceed"  # needed but unavailable; the tenant says go on without it
    NOT_NEEDED = "not-needed"  # no action turns SMTP AUTH off


@dataclass(frozen=True)
class PlanContext:
    """What the guards decide on, computed once per plan."""

    policy: TenantPolicy
    observed: Observation
    mailboxes: Mapping[str, MailboxSetting]  # observed, by lower-cased GUID
    live: ExceptionIndex
    sign_ins: tuple[SignInEvidence, ...]
    evidence: EvidenceState
    note: str  # for the run: what happened because the evidence was unavailable
    days: int  # the evidence window
    now: datetime
    first_seen: Mapping[str, datetime]  # Finding.key -> when the run history first saw it
    # When remediation began for this tenant (remediation_start): drift seen in report
    # mode is warned about before it is fixed. None: no later start than first seen.
    remediate_since: datetime | None = None

    @classmethod
    def of(
        cls,
        actions: Sequence[Action],
        policy: TenantPolicy,
        observed: Observation,
        evidence: Evidence | None,
        now: datetime,
        first_seen: Mapping[str, datetime] | None = None,
        remediate_since: datetime | None = None,
    ) -> PlanContext:
        note = ""
        if evidence is not None and evidence.available:
            state = EvidenceState.READ
        elif not needs_evidence(actions):
            state = EvidenceState.NOT_NEEDED
        else:
            problem = evidence.problem if evidence else "not read"
            if policy.when_evidence_unavailable is EvidencePolicy.HOLD:
                state = EvidenceState.HOLD
                note = (
                    f"Sign-in evidence unavailable ({problem}): actions that turn SMTP AUTH off are held "
                    "(WhenEvidenceUnavailable is 'hold')."
                )
            else:
                state = EvidenceState.PROCEED
                note = (
                    f"Sign-in evidence unavailable ({problem}): proceeding without it "
                    "(WhenEvidenceUnavailable is 'proceed')."
                )
        return cls(
            policy=policy,
            observed=observed,
            mailboxes={m.guid.lower(): m for m in observed.mailboxes},
            live=ExceptionIndex.live(policy.exceptions, now),
            sign_ins=evidence.sign_ins if evidence is not None and state is EvidenceState.READ else (),
            evidence=state,
            note=note,
            days=evidence.days if evidence else policy.evidence_days,
            now=now,
            first_seen=first_seen or {},
            remediate_since=remediate_since,
        )

    @cached_property
    def accounts(self) -> AccountIndex[SignInEvidence]:
        """The sign-ins by account: each mailbox action looks its user up here."""
        return AccountIndex(self.sign_ins)

    def mailbox(self, action: Action) -> MailboxSetting | None:
        """The observed mailbox a mailbox action names (None: not seen, or an org action)."""
        if action.kind is not ActionKind.SET_MAILBOX:
            return None
        return self.mailboxes.get((action.mailbox_guid or "").lower())

    def seen_since(self, action: Action) -> datetime:
        """When the drift this action fixes was first seen: by the run history, else
        now (this run found it). Never later than now, whatever a stored row says."""
        return min(self.first_seen.get(action.finding_key, self.now), self.now)

    def grace_from(self, action: Action) -> datetime:
        """When the grace period starts: the drift's first sighting, or when remediation
        began for the tenant if that is later (drift seen in report mode is not fixed
        the moment the mode changes, with nobody told). Never later than now."""
        start = self.seen_since(action)
        if self.remediate_since is not None:
            start = max(start, min(self.remediate_since, self.now))
        return start

    def due(self, action: Action) -> datetime | None:
        """When the grace period ends for an action that turns SMTP AUTH off (None: none applies)."""
        if not takes_smtp_auth_away(action):
            return None
        return self.grace_from(action) + timedelta(hours=self.policy.grace_hours)


def counts_against_limit(action: Action) -> bool:
    # The limit is on mailbox changes: the org switch is one setting, guarded on its own.
    return action.kind is ActionKind.SET_MAILBOX


@dataclass(frozen=True)
class Budget:
    """Mailbox changes this run may still plan."""

    left: int

    def after(self, planned: Action) -> Budget:
        return Budget(self.left - 1) if counts_against_limit(planned) else self


@dataclass(frozen=True)
class Plan:
    """Each action as PLANNED or HELD with the reason, in the order asked; and a note
    for the run (empty unless the evidence was unavailable)."""

    results: tuple[ActionResult, ...]
    note: str = ""

    @property
    def planned(self) -> tuple[Action, ...]:
        """The actions to attempt."""
        return tuple(r.action for r in self.results if r.status is ActionStatus.PLANNED)


Guard = Callable[[Action, PlanContext, Budget], ActionResult | None]
"""Refuses an action (HELD, with why) or lets it pass (None)."""


def _held(action: Action, reason: str, users: Sequence[SignInEvidence] = ()) -> ActionResult:
    return ActionResult(action, ActionStatus.HELD, reason, tuple(users))


def org_switch_never_enabled(action: Action, context: PlanContext, budget: Budget) -> ActionResult | None:
    if action.kind is not ActionKind.SET_ORG or action.after is not False:
        return None
    tenant = context.policy.tenant_id
    return _held(
        action,
        "the tenant's desired state allows SMTP AUTH for the organization, but remediation never "
        "turns it on for the whole organization: policy says the org switch SHALL be off (CIS M365 "
        "6.5.4, MS.EXO.5.1v1), so an allowed value is an accepted deviation, not a target; nothing "
        f"is written. Exchange already has it off, as policy wants: to stop this report, "
        f"{commands.tenant_set(tenant, '--disallow-org-smtp-auth')}",
    )


def unseen_mailbox(action: Action, context: PlanContext, budget: Budget) -> ActionResult | None:
    if action.kind is ActionKind.SET_MAILBOX and context.mailbox(action) is None:
        return _held(action, "not in this run's mailbox list; nothing is written to it")
    return None


def approved_exception(action: Action, context: PlanContext, budget: Budget) -> ActionResult | None:
    mailbox = context.mailbox(action)
    if mailbox is not None and context.live.covers(mailbox):
        return _held(action, "approved exception: never touched")
    return None


def evidence_unavailable(action: Action, context: PlanContext, budget: Budget) -> ActionResult | None:
    if context.evidence is EvidenceState.HOLD and takes_smtp_auth_away(action):
        return _held(action, context.note)
    return None


def approved_mailboxes_on_org_switch(
    action: Action, context: PlanContext, budget: Budget
) -> ActionResult | None:
    if action.kind is not ActionKind.SET_ORG or not takes_smtp_auth_away(action):
        return None
    riding = _exceptions_riding_on_org(context)
    if not riding:
        return None
    fixes = "; ".join(commands.set_cas_mailbox(m.guid, False) for m in riding[:5])
    return _held(
        action,
        f"{len(riding)} approved mailbox(es) have no override of their own and use SMTP AUTH only "
        f"through the org switch: {', '.join(m.address for m in riding[:5])}"
        f"{' and more' if len(riding) > 5 else ''}. Give each its own override first ({fixes}); "
        "then the org switch can be turned off.",
    )


def org_followers_used_smtp_auth(action: Action, context: PlanContext, budget: Budget) -> ActionResult | None:
    if action.kind is not ActionKind.SET_ORG or not takes_smtp_auth_away(action):
        return None
    users = _org_users(context.observed, context.sign_ins)
    if not users:
        return None
    return _held(
        action,
        f"{len(users)} account(s) that follow the org setting used SMTP AUTH in the last {context.days} "
        f"days and would lose it: {_who(users)}. For each that must keep it, record an exception "
        f"({commands.exception_add(context.policy.tenant_id)}) and set its own "
        f"override ({commands.set_cas_mailbox('ADDRESS', False)}); then the org switch "
        "can be turned off.",
        users,
    )


def mailbox_user_used_smtp_auth(action: Action, context: PlanContext, budget: Budget) -> ActionResult | None:
    mailbox = context.mailbox(action)
    if mailbox is None:
        return None  # the org switch has its own guards; an unseen mailbox is refused earlier
    # Sign-ins by the mailbox's user: by UPN (usually the address) or Entra object id.
    users = context.accounts.of(action.target, mailbox.external_id)
    if not users:
        return None
    if action.finding_kind is FindingKind.MAILBOX_EXCEPTION_EXPIRED:
        ask = "Its exception has expired; if it is still needed, renew it"
    else:
        ask = "If it is approved, record it"
    return _held(
        action,
        f"its user signed in with SMTP AUTH in the last {context.days} days ({_who(users)}); turning it off "
        f"would break it. {ask}: {commands.exception_add(context.policy.tenant_id, action.target)}",
        users,
    )


def grace_period(action: Action, context: PlanContext, budget: Budget) -> ActionResult | None:
    due = context.due(action)
    if due is None or context.now >= due:
        return None
    if action.kind is ActionKind.SET_ORG:
        who = "the organization (every mailbox without its own override)"
        keep = (
            f"record an exception for each mailbox that must keep it "
            f"({commands.exception_add(context.policy.tenant_id)}) and give it its own override "
            f"({commands.set_cas_mailbox('ADDRESS', False)})"
        )
    else:
        who = action.target
        keep = f"record it: {commands.exception_add(context.policy.tenant_id, action.target)}"
    seen, start = context.seen_since(action), context.grace_from(action)
    since = f"drift first seen {seen:%Y-%m-%d %H:%M} UTC"
    if start > seen:
        since += f", remediate mode since {start:%Y-%m-%d %H:%M} UTC"
    return _held(
        action,
        f"SMTP AUTH will be turned off for {who} at {due:%Y-%m-%d %H:%M} UTC unless an approved "
        f"exception is recorded ({since}, grace {context.policy.grace_hours} h). "
        f"If it must keep SMTP AUTH, {keep}",
    )


def remediation_start(
    stored: datetime | None, report_seen: datetime | None, now: datetime
) -> tuple[datetime, bool]:
    """When remediation began for a tenant, and whether that is new (to be recorded):
    the stored start, unless there is none or a check in report mode came after it
    (the tenant went back to report mode and now remediates again): then now."""
    if stored is None or (report_seen is not None and report_seen >= stored):
        return now, True
    return stored, False


def change_limit(action: Action, context: PlanContext, budget: Budget) -> ActionResult | None:
    if not counts_against_limit(action) or budget.left > 0:
        return None
    return _held(
        action,
        f"limit of {context.policy.max_changes_per_run} mailbox changes per run reached; "
        "it follows in a later run",
    )


GUARDS: tuple[Guard, ...] = (
    org_switch_never_enabled,
    unseen_mailbox,
    approved_exception,
    evidence_unavailable,
    approved_mailboxes_on_org_switch,
    org_followers_used_smtp_auth,
    mailbox_user_used_smtp_auth,
    grace_period,
    change_limit,
)


def refusal(action: Action, context: PlanContext, budget: Budget) -> ActionResult | None:
    """The first refusal in GUARDS order, naming its guard; None: the action passes them all."""
    for guard in GUARDS:
        if (held := guard(action, context, budget)) is not None:
            return replace(held, held_by=guard.__name__)
    return None


def waits_for_grace(result: ActionResult) -> bool:
    """Held only until its grace period ends: done by the first run after ``due``."""
    return result.status is ActionStatus.HELD and result.held_by == grace_period.__name__


def plan(
    actions: Sequence[Action],
    policy: TenantPolicy,
    observed: Observation,
    evidence: Evidence | None,
    now: datetime,
    first_seen: Mapping[str, datetime] | None = None,
    remediate_since: datetime | None = None,
) -> Plan:
    """Each action through GUARDS in order: the first refusal holds it; one that
    passes them all is planned, and a planned mailbox change uses up the budget.

    ``first_seen`` maps Finding.key to when the run history first saw that drift
    (its open findings); a finding it lacks was first seen ``now``. The grace period
    starts no earlier than ``remediate_since`` (remediation_start), when given."""
    context = PlanContext.of(actions, policy, observed, evidence, now, first_seen, remediate_since)
    budget = Budget(policy.max_changes_per_run)
    results: list[ActionResult] = []
    for action in actions:
        result = refusal(action, context, budget)
        if result is None:
            checked = context.evidence is EvidenceState.READ
            result = ActionResult(action, ActionStatus.PLANNED, _why(action, checked, context.days))
            budget = budget.after(action)
        results.append(replace(result, due=context.due(action)))
    return Plan(tuple(results), context.note)


def _why(action: Action, checked: bool, days: int) -> str:
    if action.kind is ActionKind.SET_ORG:
        what = f"org drift: {commands.set_transport_config(action.after)}"
    else:
        what = f"{action.finding_kind}: {commands.set_cas_mailbox(action.mailbox_guid or action.target, action.after)}"
    if takes_smtp_auth_away(action) and checked:
        who = (
            "by this account"
            if action.kind is ActionKind.SET_MAILBOX
            else "by anyone who follows the org setting"
        )
        what += f" (no successful SMTP AUTH sign-in {who} in the last {days} days)"
    return what
