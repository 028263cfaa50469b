"""The nouns of a check, as plain immutable values.

Everything here is data: no I/O, no clock. The Exchange property being enforced is
``SmtpClientAuthenticationDisabled``; ``True`` means SMTP AUTH is OFF.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.core.rules import Rule

from shared.core.basic_auth import BasicAuthPolicy, auth_protocol
from shared.core.limits import (
    DEFAULT_MAILBOX_FIX,
    EVIDENCE_DAYS,
    GRACE_HOURS,
    INTERVAL_MINUTES,
    MAILBOX_FIX,
    MAX_CHANGES_PER_RUN,
)


class Mode(StrEnum):
    REPORT = "report"
    REMEDIATE = "remediate"


class FindingKind(StrEnum):
    """Stable strings used in JSON, tables, cards and tests (design contract)."""

    ORG_SETTING_DRIFT = "org-setting-drift"
    MAILBOX_ENABLED_WITHOUT_EXCEPTION = "mailbox-enabled-without-exception"
    MAILBOX_EXCEPTION_EXPIRED = "mailbox-exception-expired"
    EXCEPTION_UNUSED = "exception-unused"
    EXCEPTION_USES_BASIC_AUTH = "exception-uses-basic-auth"

    @property
    def rule(self) -> Rule:
        """This kind's entry in the rule catalogue (label, severity, controls)."""
        # Imported here: the catalogue is built from this enum.
        from shared.core.rules import CATALOGUE

        return CATALOGUE[self]

    @property
    def is_compliance_failure(self) -> bool:
        # False for hygiene (an unused exception): worth telling, not a policy breach.
        return self.rule.compliance_failure


class Status(StrEnum):
    COMPLIANT = "compliant"
    DRIFT = "drift"
    ERROR = "could-not-check"


@dataclass(frozen=True)
class MailboxException:
    """An approved per-mailbox SMTP AUTH exception (one desired-state row)."""

    row_key: str
    mailbox: str
    mailbox_guid: str | None
    reason: str
    approver: str
    expires: date
    ticket: str | None = None

    def is_live(self, now: datetime) -> bool:
        # The expiry date is the last day the exception holds (UTC), inclusive.
        return now.date() <= self.expires


class EvidencePolicy(StrEnum):
    """What remediation does when sign-in evidence cannot be read (no Entra ID P1)."""

    HOLD = "hold"
    PROCEED = "proceed"


@dataclass(frozen=True)
class Recipients:
    """Where a tenant's messages go, as its row names them: addresses, and the NAME of
    the app setting that holds its Teams webhook URL (the same fields as TenantPolicy)."""

    notify_email: tuple[str, ...] = ()
    notify_teams_setting: str | None = None


@dataclass(frozen=True)
class TenantPolicy:
    """Desired state for one monitored tenant."""

    tenant_id: str
    initial_domain: str
    desired_org_disabled: bool = True
    mode: Mode = Mode.REPORT
    enabled: bool = True
    notify_email: tuple[str, ...] = ()
    notify_teams_setting: str | None = None
    exceptions: tuple[MailboxException, ...] = ()
    # Remediation guard rails (used in remediate mode and by `plan`).
    # Defaults and ranges: shared.core.limits (the row loader and the CLI use them too).
    mailbox_fix_value: bool | None = MAILBOX_FIX[DEFAULT_MAILBOX_FIX]  # True: off; None: follow the org
    evidence_days: int = EVIDENCE_DAYS.default
    when_evidence_unavailable: EvidencePolicy = EvidencePolicy.HOLD
    max_changes_per_run: int = MAX_CHANGES_PER_RUN.default
    # Hours after drift is first seen before remediation turns SMTP AUTH off; 0: at once.
    grace_hours: int = GRACE_HOURS.default
    # Minutes between checks; 0: at every timer tick (shared.core.fanout decides).
    interval_minutes: int = INTERVAL_MINUTES.default
    # The multi-tenant app this (customer) tenant consented to, when it is not the one
    # in SMTPAUTH_MULTITENANT_APP_ID (an MSP with more than one app); None = that one.
    app_id: str | None = None


@dataclass(frozen=True)
class TenantLoad:
    """One tenant's desired state as loaded.

    ``policy`` is set when the tenant row parsed; any error (in it or in an exception
    row) makes the tenant "could not check": checking against half a policy would
    raise false alarms, and remediating on it could break an approved mailbox.

    What did parse is kept beside it, for people, never for a check: ``recipients``,
    the tenant row's notification fields that validated (so a broken row still
    reaches the people it names), and ``exceptions``, every exception row that
    validated (``exception list`` shows them with the errors).
    """

    tenant_id: str
    policy: TenantPolicy | None
    errors: tuple[str, ...] = field(default=())
    recipients: Recipients | None = None  # None: no tenant row, or none of its targets parse
    exceptions: tuple[MailboxException, ...] = ()

    @property
    def ok(self) -> bool:
        return self.policy is not None and not self.errors

    @property
    def enabled(self) -> bool:
        # A tenant whose own row is unreadable is reported, not silently skipped.
        return self.policy is None or self.policy.enabled


@dataclass(frozen=True, slots=True)
class MailboxSetting:
    """One CAS mailbox, reduced to what the rules need."""

    guid: str
    address: str
    smtp_auth_disabled: bool | None
    # Entra object id: sign-in logs name users by it (and by UPN).
    external_id: str | None = None


@dataclass(frozen=True)
class Observation:
    """What Exchange Online said, reduced.

    ``mailboxes`` holds only the mailboxes that matter to the rules: those with an
    override (non-null) and those named by an exception. ``mailboxes_scanned`` counts
    every mailbox read, so memory follows the findings, not the tenant size.
    """

    tenant_id: str
    org_smtp_auth_disabled: bool
    mailboxes_scanned: int
    mailboxes: tuple[MailboxSetting, ...] = ()
    # The default authentication policy's say on Basic SMTP AUTH (None: not read).
    basic_auth: BasicAuthPolicy | None = None


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    target: str
    actual: bool | None
    desired: bool | None
    message: str
    mailbox_guid: str | None = None

    @property
    def sort_key(self) -> tuple[int, str, str]:
        """Org first, then by kind and mailbox: the order people read them in."""
        return (list(FindingKind).index(self.kind), self.target.lower(), self.mailbox_guid or "")

    @property
    def key(self) -> str:
        """Identity of a finding across runs: same kind on the same object."""
        return finding_key(self.kind, self.mailbox_guid or self.target)


def finding_key(kind: FindingKind, mailbox: str) -> str:
    """Finding.key of a finding of ``kind`` on ``mailbox`` (its GUID, else its address)."""
    if kind is FindingKind.ORG_SETTING_DRIFT:
        return str(kind)
    return f"{kind}:{mailbox.lower()}"


class ChangeKind(StrEnum):
    OPENED = "opened"
    CHANGED = "changed"
    RESOLVED = "resolved"
    FIXED = "fixed"  # fixed and read back by this run's own remediation


@dataclass(frozen=True)
class FindingChange:
    change: ChangeKind
    finding: Finding


@dataclass(frozen=True)
class HistoryDiff:
    """How this run's findings differ from the last run's.

    ``fixed``: what this run's remediation fixed (open before or found by this run);
    never also opened or resolved, so it is told once, as fixed."""

    opened: tuple[Finding, ...] = ()
    changed: tuple[Finding, ...] = ()
    resolved: tuple[Finding, ...] = ()
    unchanged: tuple[Finding, ...] = ()
    fixed: tuple[Finding, ...] = ()

    @property
    def changes(self) -> tuple[FindingChange, ...]:
        return (
            tuple(FindingChange(ChangeKind.OPENED, f) for f in self.opened)
            + tuple(FindingChange(ChangeKind.CHANGED, f) for f in self.changed)
            + tuple(FindingChange(ChangeKind.RESOLVED, f) for f in self.resolved)
            + tuple(FindingChange(ChangeKind.FIXED, f) for f in self.fixed)
        )


class ActionKind(StrEnum):
    SET_ORG = "set-org"
    SET_MAILBOX = "set-mailbox"


class ActionStatus(StrEnum):
    PLANNED = "planned"  # `plan` only: what remediation would do
    HELD = "held"  # a guard rail stopped it; the reason says which
    APPLIED = "applied"  # done and read back
    FAILED = "failed"  # the call failed, or the read-back did not show the change
    SKIPPED = "skipped"  # nothing written: the target had already changed since the check


@dataclass(frozen=True)
class SignInEvidence:
    """One recent SMTP AUTH sign-in (Graph sign-in logs)."""

    user: str
    at: datetime
    ip_address: str
    app: str = ""
    user_id: str = ""
    client_app: str = ""  # clientAppUsed: "Authenticated SMTP" or "SMTP" (Basic auth)


@dataclass(frozen=True)
class SmtpUser:
    """One account's successful SMTP AUTH sign-ins in the window (shared.core.smtp_usage)."""

    user: str
    user_id: str
    sign_ins: int
    first_seen: datetime
    last_seen: datetime
    ip_addresses: tuple[str, ...]  # most used first, at most smtp_usage.MAX_IPS
    client_apps: tuple[str, ...]
    more_ips: int = 0  # addresses beyond those listed

    @property
    def basic(self) -> bool:
        """Whether the log shows Basic auth: every SMTP AUTH sign-in it holds is."""
        return any(auth_protocol(app) == "basic" for app in self.client_apps)


@dataclass(frozen=True)
class Evidence:
    """Who used SMTP AUTH recently, as far as the sign-in logs can tell.

    ``available`` False means the logs could not be read (``problem`` says why):
    that is "unknown", never "nobody". ``sign_ins`` is each account's latest sign-in
    (what remediation's guard names); ``users`` the same accounts summed up."""

    available: bool
    days: int
    sign_ins: tuple[SignInEvidence, ...] = ()
    problem: str = ""
    # When Graph refused the read: its HTTP status and error code (tenant verify says
    # from them which grant is missing).
    status: int | None = None
    code: str = ""
    users: tuple[SmtpUser, ...] = ()


@dataclass(frozen=True)
class Action:
    """One change remediation wants to make: set SmtpClientAuthenticationDisabled
    from ``before`` to ``after`` on the organization or one mailbox."""

    kind: ActionKind
    target: str
    before: bool | None
    after: bool | None
    finding_kind: FindingKind
    mailbox_guid: str | None = None

    @property
    def finding_key(self) -> str:
        """Finding.key of the finding this action fixes (its first-seen time is kept by it)."""
        return finding_key(self.finding_kind, self.mailbox_guid or self.target)


@dataclass(frozen=True)
class ActionResult:
    action: Action
    status: ActionStatus
    reason: str
    evidence: tuple[SignInEvidence, ...] = ()
    # What Exchange warned when it took the change (@adminapi.warnings), kept for the audit.
    warnings: tuple[str, ...] = ()
    # When the grace period after the drift was first seen ends: not done before it
    # (None: no grace applies, the action does not turn SMTP AUTH off).
    due: datetime | None = None
    # The guard that held it (its function name in shared.core.remediation); "" if none did.
    held_by: str = ""


@dataclass(frozen=True)
class RemediationOutcome:
    mode: Mode
    results: tuple[ActionResult, ...] = ()
    note: str = ""  # e.g. "evidence unavailable (403): held as the tenant setting says"
    # Why remediation could not run at all (lock, audit or storage failure): no action
    # was decided, so there are no results. None: it ran.
    stopped: str | None = None
    # Findings an earlier, interrupted run fixed, verified by this run's read: reported
    # fixed (their actions are among ``results``, applied). shared.core.interrupted.
    settled: tuple[Finding, ...] = ()
    # Findings an earlier run's unsettled intent may have fixed (that run may still be
    # working): kept open in the history, neither resolved nor fixed, until settled.
    unsettled: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one tenant once.

    After remediation, ``findings`` is what is still open (the status follows it) and
    ``fixed`` what this run fixed and read back; ``org_actual`` is the org switch as
    it is now, after any fix of it."""

    tenant_id: str
    checked_at: datetime
    status: Status
    org_desired: bool | None = None
    org_actual: bool | None = None
    mailboxes_scanned: int = 0
    findings: tuple[Finding, ...] = ()
    error: str | None = None
    fixed: tuple[Finding, ...] = ()
    diff: HistoryDiff | None = field(default=None, compare=False)
    # Filled in by the engine: the policy checked against (None when it could not
    # be read) and the status of the tenant's previous recorded run (None: first run).
    policy: TenantPolicy | None = field(default=None, compare=False, repr=False)
    previous_status: Status | None = field(default=None, compare=False)
    previous_run: str | None = field(default=None, compare=False)  # row key of that run
    # Remediation tried in this run (None: report mode, or nothing to do).
    remediation: RemediationOutcome | None = field(default=None, compare=False)
    # Who the tenant's broken row names, when it could not be read as a policy.
    recipients: Recipients | None = field(default=None, compare=False, repr=False)
    # Whether Basic SMTP AUTH is still possible (None: not read, e.g. could not check).
    basic_auth: BasicAuthPolicy | None = field(default=None, compare=False)
    # Not observed as drift, but kept open in the history: an earlier run's unsettled
    # intent may have fixed them (RemediationOutcome.unsettled). Not counted in status.
    unsettled: tuple[Finding, ...] = field(default=(), compare=False)

    @property
    def compliant(self) -> bool:
        return self.status is Status.COMPLIANT
