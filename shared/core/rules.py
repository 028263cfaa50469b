"""The rule catalogue: one entry per finding kind, the metadata beside the check
(label, severity, the controls it implements, whether it breaks policy, whether
remediation may fix it). Policy, remediation, notifications and reports read it
here instead of keeping their own lists. Pure data.

Which control says what (the policy statement):

* **CIS M365 6.5.4** ("Ensure SMTP AUTH is disabled") covers the organization switch
  (``Set-TransportConfig``) and keeps the per-mailbox exception: a mailbox override
  (``Set-CASMailbox``) may turn SMTP AUTH back on for a special case. Both the org
  rule and the mailbox rules implement it.
* **CISA SCuBA MS.EXO.5.1v1** ("SMTP AUTH SHALL be disabled") covers the organization
  switch. Its current text has no per-mailbox MAY clause, so only the org rule cites
  it; the approved per-mailbox exceptions rest on CIS.

Severity says how much is exposed: the org switch opens SMTP AUTH (which MFA cannot
protect) to every mailbox that follows it; an unapproved override opens one mailbox
nobody vouched for; an expired exception one mailbox that was approved once; an unused
exception exposes nothing and is housekeeping. An exception whose mailbox signs in with
Basic auth exposes nothing new either (hygiene), but it is an outage on a known date
(shared.core.basic_auth), so it is told once when it first appears, then in the digest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from shared.core.model import FindingKind

CIS = "CIS M365 6.5.4"
SCUBA = "MS.EXO.5.1v1"


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


@dataclass(frozen=True)
class Rule:
    kind: FindingKind
    label: str  # a few words for a card, a mail or a table line
    severity: Severity
    controls: tuple[str, ...]
    compliance_failure: bool  # False: hygiene, reported but the tenant stays compliant
    remediable: bool  # remediation may change Exchange to fix it
    description: str
    # Hygiene that is still told at once, the first time it appears (compliance
    # failures always are); the digest carries it after that.
    told_when_opened: bool = False


def _hygiene(kind: FindingKind, label: str, description: str, *, told_when_opened: bool = False) -> Rule:
    """A rule that is housekeeping: exposes nothing, breaks no control, fixed by a person."""
    return Rule(
        kind=kind,
        label=label,
        severity=Severity.INFO,
        controls=(),
        compliance_failure=False,
        remediable=False,
        description=description,
        told_when_opened=told_when_opened,
    )


RULES: tuple[Rule, ...] = (
    Rule(
        kind=FindingKind.ORG_SETTING_DRIFT,
        label="organization switch",
        severity=Severity.HIGH,
        controls=(CIS, SCUBA),
        compliance_failure=True,
        remediable=True,
        description="The organization's SmtpClientAuthenticationDisabled is not the desired value.",
    ),
    Rule(
        kind=FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION,
        label="no approved exception",
        severity=Severity.MEDIUM,
        controls=(CIS,),
        compliance_failure=True,
        remediable=True,
        description="A mailbox override turns SMTP AUTH on and no approved exception covers it.",
    ),
    Rule(
        kind=FindingKind.MAILBOX_EXCEPTION_EXPIRED,
        label="exception expired",
        severity=Severity.LOW,
        controls=(CIS,),
        compliance_failure=True,
        remediable=True,
        description="A mailbox override turns SMTP AUTH on and its approved exception has expired.",
    ),
    _hygiene(
        FindingKind.EXCEPTION_UNUSED,
        "exception not used",
        "A live exception whose mailbox is gone or does not turn SMTP AUTH on itself.",
    ),
    _hygiene(
        FindingKind.EXCEPTION_USES_BASIC_AUTH,
        "exception uses Basic auth",
        "An approved exception whose mailbox signed in with Basic-auth SMTP AUTH in the evidence "
        "window: it stops working when Microsoft turns Basic auth for SMTP AUTH off.",
        told_when_opened=True,
    ),
)

CATALOGUE: Mapping[FindingKind, Rule] = MappingProxyType({rule.kind: rule for rule in RULES})
