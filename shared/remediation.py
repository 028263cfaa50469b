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

from .model import (
    Action,
    ActionKind,
    ActionResult,
    ActionStatus,
    Evidence,
    EvidencePolicy,
    Finding,
    FindingKind,
    Observation,
    SignInEvidence,
    TenantPolicy,
)
from .policy import ExceptionIndex

_FIXABLE = (FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION, FindingKind.MAILBOX_EXCEPTION_EXPIRED)


def actions_for(findings: Iterable[Finding], policy: TenantPolicy) -> list[Action]:
    """One action per finding that remediation can fix; org first, then by mailbox."""
    actions = []
    for finding in findings:
        if finding.kind is FindingKind.ORG_SETTING_DRIFT:
            actions.append(
                Action(
                    ActionKind.SET_ORG,
                    "organization",
                    finding.actual,
                    policy.desired_org_disabled,
                    finding.kind,
                )
            )
        elif finding.kind in _FIXABLE and finding.mailbox_guid:
            actions.append(
                Action(
                    ActionKind.SET_MAILBOX,
                    finding.target,
                    finding.actual,
                    policy.mailbox_fix_value,
                    finding.kind,
                    mailbox_guid=finding.mailbox_guid,
                )
            )
    return sorted(actions, key=lambda a: (a.kind is not ActionKind.SET_ORG, a.target.lower()))


def takes_smtp_auth_away(action: Action) -> bool:
    if action.kind is ActionKind.SET_ORG:
        return action.after is True
    return True  # a mailbox action always removes the override that turned it on


def needs_evidence(actions: Iterable[Action]) -> bool:
    return any(takes_smtp_auth_away(a) for a in actions)


def _who(sign_ins: Sequence[SignInEvidence], limit: int = 5) -> str:
    shown = [f"{s.user} on {s.at:%Y-%m-%d %H:%M} UTC from {s.ip_address}" for s in sign_ins[:limit]]
    more = f" and {len(sign_ins) - limit} more" if len(sign_ins) > limit else ""
    return "; ".join(shown) + more


def _users_of(
    address: str, external_id: str | None, sign_ins: Iterable[SignInEvidence]
) -> list[SignInEvidence]:
    """Sign-ins by one mailbox's user: by UPN (usually the address) or Entra object id."""
    address, ident = address.lower(), (external_id or "").lower()
    return [s for s in sign_ins if s.user.lower() == address or (ident and s.user_id.lower() == ident)]


def _org_users(observed: Observation, sign_ins: Sequence[SignInEvidence]) -> list[SignInEvidence]:
    """Recent SMTP AUTH users who would lose it with the org switch: everyone whose
    mailbox does not have its own override turning it on."""
    keep_names = {m.address.lower() for m in observed.mailboxes if m.smtp_auth_disabled is False}
    keep_ids = {
        m.external_id.lower() for m in observed.mailboxes if m.smtp_auth_disabled is False and m.external_id
    }
    return [s for s in sign_ins if s.user.lower() not in keep_names and s.user_id.lower() not in keep_ids]


def plan(
    actions: Sequence[Action],
    policy: TenantPolicy,
    observed: Observation,
    evidence: Evidence | None,
    now: datetime,
) -> tuple[tuple[ActionResult, ...], str]:
    """Each action as PLANNED or HELD with the reason; and a note for the run."""
    live = ExceptionIndex([e for e in policy.exceptions if e.is_live(now)])
    by_guid = {m.guid.lower(): m for m in observed.mailboxes}
    note = ""
    unavailable_hold = False
    if needs_evidence(actions) and (evidence is None or not evidence.available):
        problem = evidence.problem if evidence else "not read"
        if policy.when_evidence_unavailable is EvidencePolicy.HOLD:
            unavailable_hold = True
            note = f"Sign-in evidence unavailable ({problem}): actions that turn SMTP AUTH off are held (WhenEvidenceUnavailable is 'hold')."
        else:
            note = f"Sign-in evidence unavailable ({problem}): proceeding without it (WhenEvidenceUnavailable is 'proceed')."
    sign_ins = evidence.sign_ins if evidence and evidence.available else ()
    days = evidence.days if evidence else policy.evidence_days

    results: list[ActionResult] = []
    budget = policy.max_changes_per_run
    for action in actions:
        mailbox = by_guid.get((action.mailbox_guid or "").lower())
        if action.kind is ActionKind.SET_MAILBOX and mailbox is not None and live.matching(mailbox):
            results.append(ActionResult(action, ActionStatus.HELD, "approved exception: never touched"))
            continue
        if takes_smtp_auth_away(action) and unavailable_hold:
            results.append(ActionResult(action, ActionStatus.HELD, note))
            continue
        if action.kind is ActionKind.SET_ORG:
            users = _org_users(observed, sign_ins) if takes_smtp_auth_away(action) else []
            if users:
                results.append(
                    ActionResult(
                        action,
                        ActionStatus.HELD,
                        f"{len(users)} account(s) without their own override used SMTP AUTH in the last "
                        f"{days} days and would lose it: {_who(users)}. For each that must keep it, record an "
                        f"exception (python -m shared exception add --tenant {policy.tenant_id} --mailbox ...) "
                        "and set its mailbox override to $false; then the org switch can be turned off.",
                        tuple(users),
                    )
                )
                continue
            results.append(ActionResult(action, ActionStatus.PLANNED, _why(action)))
            continue
        users = _users_of(action.target, mailbox.external_id if mailbox else None, sign_ins)
        if users:
            results.append(
                ActionResult(
                    action,
                    ActionStatus.HELD,
                    f"{action.target} used SMTP AUTH in the last {days} days ({_who(users)}); turning it off "
                    f"would break it. If it is approved, record it: python -m shared exception add --tenant "
                    f"{policy.tenant_id} --mailbox {action.target} --reason ... --approver ... --expires YYYY-MM-DD",
                    tuple(users),
                )
            )
            continue
        if budget <= 0:
            results.append(
                ActionResult(
                    action,
                    ActionStatus.HELD,
                    f"limit of {policy.max_changes_per_run} mailbox changes per run reached; it follows in a later run",
                )
            )
            continue
        budget -= 1
        results.append(ActionResult(action, ActionStatus.PLANNED, _why(action)))
    return tuple(results), note


def _value(v: bool | None) -> str:
    return "$null" if v is None else f"${str(v).lower()}"


def _why(action: Action) -> str:
    if action.kind is ActionKind.SET_ORG:
        return f"org drift: Set-TransportConfig -SmtpClientAuthenticationDisabled {_value(action.after)}"
    return (
        f"{action.finding_kind}: Set-CASMailbox -Identity {action.mailbox_guid} "
        f"-SmtpClientAuthenticationDisabled {_value(action.after)}"
    )
