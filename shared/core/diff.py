"""How one run's findings differ from the last run's. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from shared.core.model import Finding, HistoryDiff


def fingerprint(finding: Finding) -> str:
    """What must differ for a finding to count as changed. The message is left out:
    rewording a message in a new release must not alert anyone."""
    return "|".join(
        str(part)
        for part in (
            finding.kind,
            finding.target.lower(),
            finding.mailbox_guid,
            finding.actual,
            finding.desired,
        )
    )


def diff(
    previous: Mapping[str, Finding], current: Iterable[Finding], fixed: Iterable[Finding] = ()
) -> HistoryDiff:
    """``current``: what is open now; ``fixed``: what this run's remediation fixed, which
    is neither opened nor resolved (it is told once, as fixed)."""
    done = tuple(fixed)
    opened, changed, unchanged = [], [], []
    seen: set[str] = {f.key for f in done}
    for finding in current:
        seen.add(finding.key)
        before = previous.get(finding.key)
        if before is None:
            opened.append(finding)
        elif fingerprint(before) != fingerprint(finding):
            changed.append(finding)
        else:
            unchanged.append(finding)
    resolved = sorted((f for key, f in previous.items() if key not in seen), key=lambda f: f.sort_key)
    return HistoryDiff(tuple(opened), tuple(changed), tuple(resolved), tuple(unchanged), done)
