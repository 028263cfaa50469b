"""What remediation would do, and what it must not do. Pure: no I/O, no clock.

Guard rails decided here (I/O-side ones, the lock and the read-back, are in
remediation_apply):

* only findings that break policy get an action; approved exceptions never do
  (and an action that names a live exception's mailbox is refused again here);
* an action that takes SMTP AUTH away from someone who used it in the evidence
  window is held, naming who, when and from where;
* when the evidence cannot be read, the tenant's setting decides: hold or proceed;
* at most ``max_changes_per_run`` mailbox changes; the rest are held for later runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from shared.core import commands
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

_FIXABLE = (FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION, FindingKind.MAILBOX_EXCEPTION_EXPIRED)


def actions_for(findings: Iterable[Finding], policy: TenantPolicy) -> list[Action]:
    """One action per finding that remediation can fix; org first, then by mailbox.
    A mailbox listed twice still gets one action."""
    actions: dict[str, Action] = {}
    for finding in findings:
        if finding.kind is FindingKind.ORG_SETTING_DRIFT:
            actions["org"] = Action(
                ActionKind.SET_ORG, "organization", finding.actual, policy.desired_org_disabled, finding.kind
            )
        elif finding.kind in _FIXABLE and finding.mailbox_guid:
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


def _users_of(
    address: str, external_id: str | None, sign_ins: Iterable[SignInEvidence]
) -> list[SignInEvidence]:
    """Sign-ins by one mailbox's user: by UPN (usually the address) or Entra object id."""
    address, ident = address.lower(), (external_id or "").lower()
    return [s for s in sign_ins if s.user.lower() == address or (ident and s.user_id.lower() == ident)]


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


def _exceptions_riding_on_org(
    policy: TenantPolicy, observed: Observation, now: datetime
) -> list[MailboxSetting]:
    """Approved mailboxes that use SMTP AUTH only because the org switch is on: no
    override of their own. Turning the org switch off would break them."""
    live = ExceptionIndex.live(policy.exceptions, now)
    return [m for m in observed.mailboxes if m.smtp_auth_disabled is None and live.covers(m)]


def plan(
    actions: Sequence[Action],
    policy: TenantPolicy,
    observed: Observation,
    evidence: Evidence | None,
    now: datetime,
) -> tuple[tuple[ActionResult, ...], str]:
    """Each action as PLANNED or HELD with the reason; and a note for the run."""
    live = ExceptionIndex.live(policy.exceptions, now)
    by_guid = {m.guid.lower(): m for m in observed.mailboxes}
    note = ""
    unavailable_hold = False
    if needs_evidence(actions) and (evidence is None or not evidence.available):
        problem = evidence.problem if evidence else "not read"
        if policy.when_evidence_unavailable is EvidencePolicy.HOLD:
            unavailable_hold = True
            note = (
                f"Sign-in evidence unavailable ({problem}): actions that turn SMTP AUTH off are held "
                "(WhenEvidenceUnavailable is 'hold')."
            )
        else:
            note = (
                f"Sign-in evidence unavailable ({problem}): proceeding without it "
                "(WhenEvidenceUnavailable is 'proceed')."
            )
    sign_ins = evidence.sign_ins if evidence and evidence.available else ()
    days = evidence.days if evidence else policy.evidence_days
    checked = evidence is not None and evidence.available

    def held(action: Action, reason: str, users: Sequence[SignInEvidence] = ()) -> ActionResult:
        return ActionResult(action, ActionStatus.HELD, reason, tuple(users))

    results: list[ActionResult] = []
    budget = policy.max_changes_per_run
    for action in actions:
        away = takes_smtp_auth_away(action)
        if action.kind is ActionKind.SET_MAILBOX:
            mailbox = by_guid.get((action.mailbox_guid or "").lower())
            if mailbox is None:
                # Fail closed: never write to a mailbox this run did not see.
                results.append(held(action, "not in this run's mailbox list; nothing is written to it"))
                continue
            if live.covers(mailbox):
                results.append(held(action, "approved exception: never touched"))
                continue
        if away and unavailable_hold:
            results.append(held(action, note))
            continue
        if action.kind is ActionKind.SET_ORG:
            riding = _exceptions_riding_on_org(policy, observed, now) if away else []
            if riding:
                fixes = "; ".join(
                    f"Set-CASMailbox -Identity {m.guid} -SmtpClientAuthenticationDisabled $false"
                    for m in riding[:5]
                )
                results.append(
                    held(
                        action,
                        f"{len(riding)} approved mailbox(es) have no override of their own and use SMTP AUTH only "
                        f"through the org switch: {', '.join(m.address for m in riding[:5])}"
                        f"{' and more' if len(riding) > 5 else ''}. Give each its own override first ({fixes}); "
                        "then the org switch can be turned off.",
                    )
                )
                continue
            users = _org_users(observed, sign_ins) if away else []
            if users:
                results.append(
                    held(
                        action,
                        f"{len(users)} account(s) that follow the org setting used SMTP AUTH in the last {days} "
                        f"days and would lose it: {_who(users)}. For each that must keep it, record an exception "
                        f"({commands.exception_add(policy.tenant_id)}) and set its own "
                        "override (Set-CASMailbox -SmtpClientAuthenticationDisabled $false); then the org switch "
                        "can be turned off.",
                        users,
                    )
                )
                continue
            results.append(ActionResult(action, ActionStatus.PLANNED, _why(action, checked, days)))
            continue
        users = _users_of(action.target, mailbox.external_id, sign_ins)
        if users:
            if action.finding_kind is FindingKind.MAILBOX_EXCEPTION_EXPIRED:
                ask = "Its exception has expired; if it is still needed, renew it"
            else:
                ask = "If it is approved, record it"
            results.append(
                held(
                    action,
                    f"its user signed in with SMTP AUTH in the last {days} days ({_who(users)}); turning it off "
                    f"would break it. {ask}: {commands.exception_add(policy.tenant_id, action.target)}",
                    users,
                )
            )
            continue
        if budget <= 0:
            results.append(
                held(
                    action,
                    f"limit of {policy.max_changes_per_run} mailbox changes per run reached; "
                    "it follows in a later run",
                )
            )
            continue
        budget -= 1
        results.append(ActionResult(action, ActionStatus.PLANNED, _why(action, checked, days)))
    return tuple(results), note


def _value(v: bool | None) -> str:
    return "$null" if v is None else f"${str(v).lower()}"


def _why(action: Action, checked: bool, days: int) -> str:
    if action.kind is ActionKind.SET_ORG:
        what = f"org drift: Set-TransportConfig -SmtpClientAuthenticationDisabled {_value(action.after)}"
    else:
        what = (
            f"{action.finding_kind}: Set-CASMailbox -Identity {action.mailbox_guid} "
            f"-SmtpClientAuthenticationDisabled {_value(action.after)}"
        )
    if takes_smtp_auth_away(action) and checked:
        who = (
            "by this account"
            if action.kind is ActionKind.SET_MAILBOX
            else "by anyone who follows the org setting"
        )
        what += f" (no successful SMTP AUTH sign-in {who} in the last {days} days)"
    return what
