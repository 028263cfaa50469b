"""The drift rules: desired state + observation + now -> findings. Pure.

Rules (their labels, severities and controls: rules.py):

* the org value of ``SmtpClientAuthenticationDisabled`` must equal the desired one;
* a mailbox override ``null`` follows the org, ``true`` is compliant, and ``false``
  (SMTP AUTH on for that mailbox) needs a live approved exception;
* an exception is matched by mailbox GUID when it records one, else by address
  (case-insensitive). A GUID-bound exception does not follow its address to another
  mailbox: addresses get reused, and the approval was for one mailbox object;
* a live exception whose mailbox is gone or has no ``false`` override is unused
  (hygiene, not a compliance failure);
* a live exception whose mailbox has SMTP AUTH on and signed in with Basic-auth SMTP
  AUTH in the evidence window will stop working when Basic auth goes (hygiene, told
  once). Sign-in logs that could not be read decide nothing: what was open stays open.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from shared.core import commands
from shared.core.accounts import AccountIndex
from shared.core.basic_auth import BASIC_AUTH_OFF, BASIC_AUTH_OFF_SOURCE, BASIC_AUTH_OFF_TEXT, what_to_do
from shared.core.model import (
    Evidence,
    Finding,
    FindingKind,
    MailboxException,
    MailboxSetting,
    Observation,
    Status,
    TenantPolicy,
)


class ExceptionIndex:
    """Exceptions looked up by GUID and by address (lower-cased)."""

    def __init__(self, exceptions: Iterable[MailboxException]) -> None:
        self.exceptions = tuple(exceptions)
        self.by_guid: dict[str, list[MailboxException]] = {}
        self.by_address: dict[str, list[MailboxException]] = {}
        for exc in self.exceptions:
            if exc.mailbox_guid:
                self.by_guid.setdefault(exc.mailbox_guid.lower(), []).append(exc)
            else:
                self.by_address.setdefault(exc.mailbox.lower(), []).append(exc)
        # Addresses of GUID-bound exceptions, only to explain a mismatch.
        self.guid_bound_addresses = {exc.mailbox.lower(): exc for exc in self.exceptions if exc.mailbox_guid}

    @classmethod
    def live(cls, exceptions: Iterable[MailboxException], now: datetime) -> ExceptionIndex:
        """Only the exceptions that hold at ``now``: the ones that approve a mailbox."""
        return cls(exc for exc in exceptions if exc.is_live(now))

    def matching(self, mailbox: MailboxSetting) -> list[MailboxException]:
        return self.by_guid.get(mailbox.guid.lower(), []) + self.by_address.get(mailbox.address.lower(), [])

    def covers(self, mailbox: MailboxSetting) -> bool:
        """Whether an exception here names the mailbox; on a ``live`` index, whether
        the mailbox is approved."""
        return bool(self.matching(mailbox))

    def is_relevant(self, guid: str, address: str, disabled: bool | None) -> bool:
        """Whether a scanned mailbox must be kept for evaluate(). Called for every
        mailbox scanned, so an empty index is not searched (no lower() needed)."""
        return (
            disabled is not None
            or (bool(self.by_guid) and guid.lower() in self.by_guid)
            or (bool(self.by_address) and address.lower() in self.by_address)
        )


def evaluate(
    policy: TenantPolicy,
    observed: Observation,
    now: datetime,
    evidence: Evidence | None = None,
    previous: Iterable[Finding] = (),
) -> tuple[Finding, ...]:
    """Every finding for one tenant, in a stable order. ``evidence``: the sign-in
    logs (None: not read); ``previous``: the findings open before this run, kept for
    what unreadable logs cannot decide."""
    findings: list[Finding] = []
    index = ExceptionIndex(policy.exceptions)  # expired ones too: they explain a finding
    live = ExceptionIndex.live(policy.exceptions, now)

    if observed.org_smtp_auth_disabled != policy.desired_org_disabled:
        findings.append(_org_drift(policy.desired_org_disabled, observed.org_smtp_auth_disabled))

    for mailbox in observed.mailboxes:
        if mailbox.smtp_auth_disabled is False:
            finding = _mailbox_override(policy.tenant_id, mailbox, index, live)
            if finding:
                findings.append(finding)

    findings.extend(_unused_exceptions(policy, observed, live))
    findings.extend(_basic_auth_exceptions(policy, observed, now, evidence, previous))
    findings.sort(key=lambda f: f.sort_key)
    return tuple(findings)


def status_of(findings: Iterable[Finding]) -> Status:
    if any(f.kind.is_compliance_failure for f in findings):
        return Status.DRIFT
    return Status.COMPLIANT


def _org_drift(desired: bool, actual: bool) -> Finding:
    if desired:
        message = (
            "SMTP AUTH is ON for the whole organization; policy wants it off. "
            f"Fix: {commands.set_transport_config(True)} "
            "(mailboxes that need it keep it through approved exceptions)."
        )
    else:
        message = (
            "SMTP AUTH is off for the organization, but this tenant's desired state "
            f"says on. Fix the desired state, or: {commands.set_transport_config(False)}."
        )
    return Finding(
        kind=FindingKind.ORG_SETTING_DRIFT,
        target="organization",
        actual=actual,
        desired=desired,
        message=message,
    )


def _mailbox_override(
    tenant_id: str, mailbox: MailboxSetting, index: ExceptionIndex, live: ExceptionIndex
) -> Finding | None:
    if live.covers(mailbox):
        return None
    matches = index.matching(mailbox)  # none of them live: expired
    fix = (
        f"Fix: {commands.set_cas_mailbox(mailbox.guid, True)}, "
        f"or record an approved exception: {commands.exception_add(tenant_id, mailbox.address)}"
    )
    if matches:
        latest = max(matches, key=lambda exc: exc.expires)
        return Finding(
            kind=FindingKind.MAILBOX_EXCEPTION_EXPIRED,
            target=mailbox.address,
            mailbox_guid=mailbox.guid,
            actual=False,
            desired=True,
            message=(
                f"SMTP AUTH is ON for {mailbox.address}; its exception (approved by "
                f"{latest.approver}) expired on {latest.expires.isoformat()}. {fix}"
            ),
        )
    hint = ""
    moved = index.guid_bound_addresses.get(mailbox.address.lower())
    if moved is not None:
        hint = (
            f" An exception names this address but was approved for another mailbox "
            f"(GUID {moved.mailbox_guid}); re-approve it for this one if intended."
        )
    return Finding(
        kind=FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION,
        target=mailbox.address,
        mailbox_guid=mailbox.guid,
        actual=False,
        desired=True,
        message=f"SMTP AUTH is ON for {mailbox.address} without an approved exception.{hint} {fix}",
    )


def _unused_exceptions(policy: TenantPolicy, observed: Observation, live: ExceptionIndex) -> list[Finding]:
    by_guid = {m.guid.lower(): m for m in observed.mailboxes}
    by_address = {m.address.lower(): m for m in by_guid.values()}
    findings: dict[str, Finding] = {}
    for exc in live.exceptions:
        if exc.mailbox_guid:
            mailbox = by_guid.get(exc.mailbox_guid.lower())
        else:
            mailbox = by_address.get(exc.mailbox.lower())
        if mailbox is not None and mailbox.smtp_auth_disabled is False:
            continue
        if (
            mailbox is not None
            and mailbox.smtp_auth_disabled is None
            and observed.org_smtp_auth_disabled is False
        ):
            # It uses SMTP AUTH through the (drifted) org switch: not unused. Remediation
            # holds the org fix until it has an override of its own.
            continue
        if mailbox is None:
            why = "no such mailbox exists any more"
        elif mailbox.smtp_auth_disabled is None:
            why = "the mailbox has no override (it follows the organization)"
        else:
            why = "the mailbox's own setting keeps SMTP AUTH off"
        finding = Finding(
            kind=FindingKind.EXCEPTION_UNUSED,
            target=exc.mailbox,
            mailbox_guid=exc.mailbox_guid,
            actual=None if mailbox is None else mailbox.smtp_auth_disabled,
            desired=None,
            message=(
                f"The exception for {exc.mailbox} (expires {exc.expires.isoformat()}) is "
                f"unused: {why}. Remove it: {commands.exception_remove(policy.tenant_id, exc.mailbox)}"
            ),
        )
        # Two rows for one mailbox make one finding, not two alerts.
        findings.setdefault(finding.key, finding)
    return list(findings.values())


def at_risk(
    policy: TenantPolicy, observed: Observation, now: datetime
) -> list[tuple[MailboxException, MailboxSetting]]:
    """Live exceptions whose mailbox has SMTP AUTH on now (its override, or the org
    switch it follows): the ones the end of Basic auth can break."""
    live = ExceptionIndex.live(policy.exceptions, now)
    out = []
    for mailbox in observed.mailboxes:
        on = mailbox.smtp_auth_disabled is False or (
            mailbox.smtp_auth_disabled is None and observed.org_smtp_auth_disabled is False
        )
        matches = live.matching(mailbox) if on else []
        if matches:
            out.append((max(matches, key=lambda exc: exc.expires), mailbox))
    return out


def needs_usage_evidence(policy: TenantPolicy, observed: Observation, now: datetime) -> bool:
    """Whether the check must read the sign-in logs (only to judge approved exceptions)."""
    return bool(at_risk(policy, observed, now))


def _basic_auth_exceptions(
    policy: TenantPolicy,
    observed: Observation,
    now: datetime,
    evidence: Evidence | None,
    previous: Iterable[Finding],
) -> list[Finding]:
    candidates = at_risk(policy, observed, now)
    if evidence is None or not evidence.available:
        # Unknown is not resolved: an exception still at risk keeps its open finding.
        keys = {f"{FindingKind.EXCEPTION_USES_BASIC_AUTH}:{m.guid.lower()}" for _, m in candidates}
        return [f for f in previous if f.kind is FindingKind.EXCEPTION_USES_BASIC_AUTH and f.key in keys]
    findings = []
    accounts = AccountIndex(evidence.users)
    for exc, mailbox in candidates:
        used = [u for u in accounts.of(mailbox.address, mailbox.external_id) if u.basic]
        if not used:
            continue
        count = sum(u.sign_ins for u in used)
        latest = max(used, key=lambda u: u.last_seen)
        where = f" from {latest.ip_addresses[0]}" if latest.ip_addresses else ""
        if now.date() <= BASIC_AUTH_OFF:
            when = f"Microsoft turns Basic auth for SMTP AUTH off by default at {BASIC_AUTH_OFF_TEXT}"
        else:
            when = (
                f"Microsoft turned Basic auth for SMTP AUTH off by default at {BASIC_AUTH_OFF_TEXT} "
                "(an admin can turn it back on until its final removal, to be announced)"
            )
        findings.append(
            Finding(
                kind=FindingKind.EXCEPTION_USES_BASIC_AUTH,
                target=mailbox.address,
                mailbox_guid=mailbox.guid,
                actual=mailbox.smtp_auth_disabled,
                desired=None,
                message=(
                    f"The approved exception for {mailbox.address} (approved by {exc.approver}, expires "
                    f"{exc.expires.isoformat()}) signs in with Basic-auth SMTP AUTH: {count:,} sign-in(s) "
                    f"in the last {evidence.days} days, the last on {latest.last_seen:%Y-%m-%d %H:%M} UTC"
                    f"{where}. {when} ({BASIC_AUTH_OFF_SOURCE}); then this device or app stops sending. "
                    f"{what_to_do()}"
                ),
            )
        )
    return findings
