"""Plain values for notification tests: check results built with the real rules
(policy.evaluate, history.diff), so findings carry the product's own messages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from shared.core.diff import diff
from shared.core.model import (
    Action,
    ActionKind,
    ActionResult,
    ActionStatus,
    CheckResult,
    Finding,
    FindingKind,
    MailboxSetting,
    Mode,
    Observation,
    RemediationOutcome,
    SignInEvidence,
    Status,
    TenantPolicy,
)
from shared.core.policy import evaluate, status_of

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
TENANT = "8f6a3c1e-2b4d-4e5f-9a0b-1c2d3e4f5a6b"
DOMAIN = "contoso.onmicrosoft.com"
POLICY = TenantPolicy(TENANT, DOMAIN, notify_email=("secops@contoso.com",), notify_teams_setting="TEAMS_HOOK")

HOSTILE = (
    "**bold** _it_ [click](https://evil.example/x) <script>alert('x')</script> &amp; {{DATE(2017-02-14T06:08:39Z, SHORT)}}"
    " | table | `code` # heading ~~strike~~ \u202emoc.live\u202c\nsecond line"
)
NON_LATIN = "Ünïcødé-日本語-مرحبا-Привет"


def mailbox(address: str, disabled: bool | None = False) -> MailboxSetting:
    return MailboxSetting(str(uuid.uuid5(uuid.NAMESPACE_DNS, address)), address, disabled)


def findings(*addresses: str, org_on: bool = False, policy: TenantPolicy = POLICY) -> tuple[Finding, ...]:
    observed = Observation(TENANT, not org_on, 1000, tuple(mailbox(a) for a in addresses))
    return evaluate(policy, observed, NOW)


def result(
    current: Sequence[Finding] = (),
    *,
    before: Sequence[Finding] = (),
    previous: Status | None = Status.COMPLIANT,
    at: datetime = NOW,
    error: str | None = None,
    remediation: RemediationOutcome | None = None,
    policy: TenantPolicy | None = POLICY,
    fixed: Sequence[Finding] = (),
) -> CheckResult:
    """A run whose findings are ``current`` (still open after ``fixed`` was fixed by
    its remediation) after a run that found ``before``."""
    if error is not None:
        return CheckResult(
            TENANT, at, Status.ERROR, error=error, policy=policy, previous_status=previous, remediation=None
        )
    return CheckResult(
        tenant_id=TENANT,
        checked_at=at,
        status=status_of(current),
        org_desired=True,
        org_actual=not any(f.kind is FindingKind.ORG_SETTING_DRIFT for f in current),
        mailboxes_scanned=1000,
        findings=tuple(current),
        fixed=tuple(fixed),
        diff=diff({f.key: f for f in before}, current, fixed),
        policy=policy,
        previous_status=previous,
        remediation=remediation,
    )


def action(
    finding: Finding, status: ActionStatus, reason: str = "", *, users: Sequence[str] = ()
) -> ActionResult:
    kind = ActionKind.SET_ORG if finding.kind is FindingKind.ORG_SETTING_DRIFT else ActionKind.SET_MAILBOX
    act = Action(kind, finding.target, finding.actual, True, finding.kind, mailbox_guid=finding.mailbox_guid)
    evidence = tuple(
        SignInEvidence(
            user=u, at=NOW - timedelta(days=2), ip_address="198.51.100.20", app="Authenticated SMTP"
        )
        for u in users
    )
    return ActionResult(act, status, reason or f"{status} for test", evidence)


def outcome(*results: ActionResult, note: str = "") -> RemediationOutcome:
    return RemediationOutcome(Mode.REMEDIATE, tuple(results), note)
