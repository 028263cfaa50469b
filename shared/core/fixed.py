"""What a run's own remediation fixed. Pure.

A finding is fixed when the action planned for it was applied and read back
(ActionStatus.APPLIED): it is then reported and recorded as fixed, not open. Held,
failed and skipped actions leave their findings open (a skipped one was "already as
desired" when re-read: someone else changed it, and the next run says resolved).
What an earlier, interrupted run fixed and this run settled (``outcome.settled``) is
fixed too, once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.core.model import Action, ActionKind, ActionStatus, Finding, FindingKind, RemediationOutcome


@dataclass(frozen=True)
class AfterRemediation:
    open: tuple[Finding, ...]
    fixed: tuple[Finding, ...]
    org_actual: bool  # the org switch now: the applied value when the run fixed it


def _fixes(action: Action, finding: Finding) -> bool:
    """Whether ``action`` is the one remediation.actions_for() made for ``finding``."""
    if not finding.kind.rule.remediable:
        return False
    if action.kind is ActionKind.SET_ORG:
        return finding.kind is FindingKind.ORG_SETTING_DRIFT
    return bool(
        finding.mailbox_guid
        and action.mailbox_guid
        and finding.kind is not FindingKind.ORG_SETTING_DRIFT
        and finding.mailbox_guid.lower() == action.mailbox_guid.lower()
    )


def after_remediation(
    findings: Iterable[Finding], outcome: RemediationOutcome | None, org_actual: bool
) -> AfterRemediation:
    applied = [r.action for r in outcome.results if r.status is ActionStatus.APPLIED] if outcome else []
    still: list[Finding] = []
    fixed: list[Finding] = []
    settled = {f.key: f for f in outcome.settled} if outcome else {}
    for finding in findings:
        if finding.key in settled:
            continue  # told once, as settled
        (fixed if any(_fixes(a, finding) for a in applied) else still).append(finding)
    fixed += settled.values()
    for action in applied:
        if action.kind is ActionKind.SET_ORG and action.after is not None:
            org_actual = action.after
    return AfterRemediation(tuple(still), tuple(fixed), org_actual)
