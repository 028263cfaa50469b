"""A check result and its events as one Message: headline, summary, facts, the
sections of findings and actions, and what to do. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from shared.core import commands
from shared.core.model import (
    Action,
    ActionKind,
    ActionResult,
    ActionStatus,
    CheckResult,
    Finding,
    FindingKind,
    Status,
)
from shared.core.remediation import waits_for_grace
from shared.notify.events import Event, EventKind
from shared.notify.message import Line, Message, Section, Tone
from shared.notify.text import MAX_NOTE, PRODUCT, clean, smtp, when

MAX_EVIDENCE = 3  # sign-ins shown per held action

_STATUS_LABEL = {Status.COMPLIANT: "Compliant", Status.DRIFT: "Drift", Status.ERROR: "Could not check"}


def finding_line(finding: Finding, since: datetime | None = None, *, resolved: bool = False) -> Line:
    target = "Organization (Set-TransportConfig)" if finding.kind is FindingKind.ORG_SETTING_DRIFT else None
    rule = finding.kind.rule
    if resolved:
        detail = f"{rule.label}: resolved"
    else:
        # Hygiene findings sit on an approved exception: the policy is the approval,
        # not a value the mailbox should have (their desired is None, not "follows the org").
        policy = smtp(finding.desired) if rule.compliance_failure else "approved exception"
        detail = f"{rule.label} ({rule.severity}): SMTP AUTH {smtp(finding.actual)}, policy: {policy}"
        if since is not None:
            detail += f", since {when(since)}"
    return Line(clean(target or finding.target), clean(detail, MAX_NOTE))


def action_line(result: ActionResult) -> Line:
    action = result.action
    target = "Organization (Set-TransportConfig)" if action.kind is ActionKind.SET_ORG else action.target
    before, after = smtp(action.before), smtp(action.after)
    if result.status is ActionStatus.APPLIED:
        detail = f"changed SMTP AUTH {before} → {after}: {result.reason}"
    elif result.status is ActionStatus.HELD:
        detail = f"held, SMTP AUTH stays {before} (remediation would set {after}): {result.reason}"
    else:
        detail = f"not changed, SMTP AUTH stays {before} (remediation tried {after}): {result.reason}"
    shown = [
        f"{s.user} on {when(s.at)} from {s.ip_address}" + (f" ({s.app})" if s.app else "")
        for s in result.evidence[:MAX_EVIDENCE]
    ]
    if shown:
        more = len(result.evidence) - len(shown)
        detail += ". Sign-ins: " + "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
    return Line(clean(target), clean(detail, MAX_NOTE))


def scheduled_line(result: ActionResult) -> Line:
    """An action waiting out its grace period: what goes, when, and how to keep it."""
    action = result.action
    org = action.kind is ActionKind.SET_ORG
    target = "Organization (Set-TransportConfig)" if org else action.target
    at = when(result.due) if result.due else "the end of its grace period"
    detail = (
        f"SMTP AUTH will be turned off for {'the organization' if org else action.target} at {at} "
        "unless an approved exception is recorded"
    )
    return Line(clean(target), clean(detail, MAX_NOTE))


def tenant_name(result: CheckResult) -> str:
    policy = result.policy
    return clean(policy.initial_domain if policy and policy.initial_domain else result.tenant_id)


def facts(result: CheckResult) -> tuple[tuple[str, str], ...]:
    name = tenant_name(result)
    tenant = name if name == result.tenant_id else f"{name} ({result.tenant_id})"
    rows = [
        ("Tenant", tenant),
        ("Status", _STATUS_LABEL[result.status]),
        ("Checked", when(result.checked_at)),
    ]
    if result.status is not Status.ERROR:
        rows.append(
            ("Organization SMTP AUTH", f"{smtp(result.org_actual)} (policy: {smtp(result.org_desired)})")
        )
        rows.append(("Mailboxes scanned", f"{result.mailboxes_scanned:,}"))
        rows.append(("Open findings", f"{len(open_failures(result)):,}"))
    if result.policy is not None:
        rows.append(("Mode", str(result.policy.mode)))
    return tuple((k, clean(v)) for k, v in rows)


def _by_kind(events: Sequence[Event]) -> dict[EventKind, list[Event]]:
    out: dict[EventKind, list[Event]] = {}
    for event in events:
        out.setdefault(event.kind, []).append(event)
    return out


def compose(result: CheckResult, events: Sequence[Event], *, remind_every: timedelta | None) -> Message:
    """The message for one tenant's events (never called with none)."""
    name = tenant_name(result)
    kinds = _by_kind(events)
    opened, changed = kinds.get(EventKind.DRIFT_OPENED, []), kinds.get(EventKind.DRIFT_CHANGED, [])
    resolved, reminded = kinds.get(EventKind.DRIFT_RESOLVED, []), kinds.get(EventKind.REMINDER, [])
    applied, holds = kinds.get(EventKind.REMEDIATION_APPLIED, []), kinds.get(EventKind.REMEDIATION_HELD, [])
    # A hold that only waits out the grace period is a scheduled change, said as such.
    scheduled = [e for e in holds if e.action is not None and waits_for_grace(e.action)]
    held = [e for e in holds if e not in scheduled]
    failed = kinds.get(EventKind.REMEDIATION_FAILED, [])
    error_event = next((e for e in events if e.error is not None), None)

    title, tone = _headline(result, kinds, name)
    summary = _summary(result, kinds)

    sections: list[Section] = []
    if error_event is not None:
        note = clean(error_event.error or "no detail", MAX_NOTE)
        if error_event.since is not None and error_event.kind is EventKind.REMINDER:
            note = f"Failing since {when(error_event.since)}. Last error: {note}"
        sections.append(Section("Why it could not be checked", note=note, tone=Tone.WARNING))
    for heading, items, section_tone, is_resolved in (
        ("New drift", opened, Tone.ATTENTION, False),
        ("Changed", changed, Tone.ATTENTION, False),
        (
            "Still open",
            [e for e in reminded if e.finding] or _unlisted(result, events),
            Tone.ATTENTION,
            False,
        ),
        ("Resolved", resolved, Tone.GOOD, True),
    ):
        if items:
            # New drift began at this check (the "Checked" fact): no "since" per line.
            lines = tuple(
                finding_line(
                    e.finding, None if e.kind is EventKind.DRIFT_OPENED else e.since, resolved=is_resolved
                )
                for e in items
                if e.finding is not None
            )
            sections.append(Section(f"{heading} ({len(lines):,})", lines, tone=section_tone))
    stopped_event = next((e for e in events if e.kind is EventKind.REMEDIATION_STOPPED), None)
    if stopped_event is not None:
        sections.append(
            Section(
                "Remediation could not run",
                note=clean(stopped_event.stopped or "", MAX_NOTE),
                tone=Tone.ATTENTION,
            )
        )
    note = clean(result.remediation.note, MAX_NOTE) if result.remediation and stopped_event is None else ""
    for heading, items, section_tone, show in (
        ("Fixed by remediation", applied, Tone.GOOD, action_line),
        ("SMTP AUTH will be turned off", scheduled, Tone.WARNING, scheduled_line),
        ("Remediation held", held, Tone.WARNING, action_line),
        ("Remediation failed", failed, Tone.ATTENTION, action_line),
    ):
        if items:
            lines = tuple(show(e.action) for e in items if e.action is not None)
            sections.append(Section(f"{heading} ({len(lines):,})", lines, tone=section_tone, note=note))
            note = ""  # the run's note once, under the first remediation section

    footer = f"{PRODUCT} · tenant {result.tenant_id}"
    if remind_every is not None and result.status is not Status.COMPLIANT:
        hours = remind_every.total_seconds() / 3600
        footer += f" · a reminder follows every {hours:g} h while this stays open"
    return Message(
        title=clean(title, 200),
        summary=clean(summary),
        tone=tone,
        facts=facts(result),
        sections=tuple(sections),
        todo=_todo(result, events),
        footer=clean(footer),
    )


def open_failures(result: CheckResult) -> list[Finding]:
    """What the "Open findings" fact and the summary's "N open" count."""
    return [f for f in result.findings if f.kind.is_compliance_failure]


def _unlisted(result: CheckResult, events: Sequence[Event]) -> list[Event]:
    """Open findings no other section names (e.g. beside a partial resolution): a
    message that counts them names them too. Without a "since": knowing when each
    began would cost a table read on every run that finds nothing new."""
    listed = {
        e.finding.key for e in events if e.finding is not None and e.kind is not EventKind.DRIFT_RESOLVED
    }
    # A held or failed action names its finding's target, with why it is still open.
    listed |= {
        _action_key(e.action.action)
        for e in events
        if e.action is not None and e.action.status is not ActionStatus.APPLIED
    }
    return [
        Event(EventKind.REMINDER, f)
        for f in open_failures(result)
        if f.key not in listed and _finding_target(f) not in listed
    ]


def _action_key(action: Action) -> str:
    return (
        "org"
        if action.kind is ActionKind.SET_ORG
        else f"mailbox:{(action.mailbox_guid or action.target).lower()}"
    )


def _finding_target(finding: Finding) -> str:
    if finding.kind is FindingKind.ORG_SETTING_DRIFT:
        return "org"
    return f"mailbox:{(finding.mailbox_guid or finding.target).lower()}"


def _headline(result: CheckResult, kinds: dict[EventKind, list[Event]], name: str) -> tuple[str, Tone]:
    if EventKind.COULD_NOT_CHECK in kinds:
        return f"Could not check SMTP AUTH in {name}", Tone.WARNING
    if EventKind.REMINDER in kinds:
        if result.status is Status.ERROR:
            return f"Reminder: still cannot check SMTP AUTH in {name}", Tone.WARNING
        return f"Reminder: SMTP AUTH drift still open in {name}", Tone.ATTENTION
    drift = kinds.get(EventKind.DRIFT_OPENED, []) + kinds.get(EventKind.DRIFT_CHANGED, [])
    if drift and not any(e.finding is not None and e.finding.kind.is_compliance_failure for e in drift):
        # Only told-when-opened hygiene: an approved exception that Basic auth's end will break.
        return f"Approved SMTP AUTH exception at risk in {name}", Tone.WARNING
    if drift:
        if result.previous_status is Status.DRIFT:
            return f"SMTP AUTH drift changed in {name}", Tone.ATTENTION
        return f"SMTP AUTH drift found in {name}", Tone.ATTENTION
    if EventKind.REMEDIATION_FAILED in kinds or EventKind.REMEDIATION_STOPPED in kinds:
        return f"SMTP AUTH remediation failed in {name}", Tone.ATTENTION
    if EventKind.DRIFT_RESOLVED in kinds:
        if result.status is Status.COMPLIANT:
            return f"SMTP AUTH drift resolved in {name}", Tone.GOOD
        return f"SMTP AUTH drift partly resolved in {name}", Tone.WARNING
    if EventKind.REMEDIATION_HELD in kinds:
        if all(e.action and waits_for_grace(e.action) for e in kinds[EventKind.REMEDIATION_HELD]):
            return f"SMTP AUTH remediation scheduled in {name}", Tone.WARNING
        return f"SMTP AUTH remediation held in {name}", Tone.WARNING
    if EventKind.REMEDIATION_APPLIED in kinds:
        return f"SMTP AUTH drift fixed by remediation in {name}", Tone.GOOD
    # Only RECOVERED is left.
    if result.status is Status.DRIFT:
        return f"Checks of {name} work again; SMTP AUTH drift is open", Tone.ATTENTION
    return f"Checks of {name} work again", Tone.GOOD


def _summary(result: CheckResult, kinds: dict[EventKind, list[Event]]) -> str:
    if result.status is Status.ERROR:
        return "could not check: " + clean(result.error or "no detail", 160)
    count = {kind: len(items) for kind, items in kinds.items()}
    parts = []
    if result.org_actual is not None and result.org_actual != result.org_desired:
        parts.append(f"org SMTP AUTH {smtp(result.org_actual)}")
    fresh = count.get(EventKind.DRIFT_OPENED, 0) + count.get(EventKind.DRIFT_CHANGED, 0)
    for label, n in (
        ("new", count.get(EventKind.DRIFT_OPENED, 0)),
        ("changed", count.get(EventKind.DRIFT_CHANGED, 0)),
        ("resolved", count.get(EventKind.DRIFT_RESOLVED, 0)),
    ):
        if n:
            parts.append(f"{n:,} {label}")
    open_now = len(open_failures(result))
    if open_now and (EventKind.REMINDER in kinds or open_now > fresh):
        parts.append(f"{open_now:,} open")
    waiting = sum(
        1 for e in kinds.get(EventKind.REMEDIATION_HELD, []) if e.action and waits_for_grace(e.action)
    )
    count[EventKind.REMEDIATION_HELD] = count.get(EventKind.REMEDIATION_HELD, 0) - waiting
    for label, n in (
        ("applied", count.get(EventKind.REMEDIATION_APPLIED, 0)),
        ("scheduled", waiting),
        ("held", count[EventKind.REMEDIATION_HELD]),
        ("failed", count.get(EventKind.REMEDIATION_FAILED, 0)),
    ):
        if n:
            parts.append(f"remediation {label}: {n:,}")
    if EventKind.REMEDIATION_STOPPED in kinds:
        parts.append("remediation could not run")
    if not parts:
        parts.append("compliant" if result.status is Status.COMPLIANT else "drift open")
    return ", ".join(parts)


def _todo(result: CheckResult, events: Sequence[Event]) -> tuple[str, ...]:
    tenant = result.tenant_id
    kinds = {e.kind for e in events}
    out: list[str] = []
    if any(e.error is not None for e in events):
        out.append(
            "Check the identity's permissions (docs/permissions.md) and the tenant's desired-state "
            f"rows; the whole error: {commands.check(tenant)}"
        )
    # One exact fix per kind of open finding, as the check's own message gives it: the
    # events' first, then whatever else is still open (the message counts those too).
    seen: set[FindingKind] = set()
    told = [e.finding for e in events if e.finding is not None and e.kind is not EventKind.DRIFT_RESOLVED]
    for finding in (*told, *open_failures(result)):
        if finding.kind in seen or not (
            finding.kind.is_compliance_failure or finding.kind.rule.told_when_opened
        ):
            continue
        seen.add(finding.kind)
        out.append(clean(finding.message, MAX_NOTE))
    if any(kind.is_compliance_failure for kind in seen):
        out.append(
            "A mailbox that must keep SMTP AUTH (a scanner, an app) needs an approved exception: "
            f"{commands.exception_add(tenant)} (list them: {commands.exception_list(tenant)})"
        )
    holds = [e.action for e in events if e.kind is EventKind.REMEDIATION_HELD and e.action is not None]
    if any(waits_for_grace(r) for r in holds):
        out.append(
            "Scheduled changes wait out the tenant's grace period (GraceHours): a device or app that "
            "must keep SMTP AUTH needs its exception recorded before the time shown; the first run "
            "after it makes the change."
        )
    if any(not waits_for_grace(r) for r in holds):
        out.append(
            "Held changes wait for a person: approve the mailbox with an exception (the reason gives "
            "the command) or agree the change with its owner; remediation tries again every run."
        )
    if EventKind.REMEDIATION_FAILED in kinds:
        out.append(f"Every remediation attempt and its error: {commands.audit(tenant)}")
    if EventKind.REMEDIATION_STOPPED in kinds:
        out.append(
            "Remediation stopped before changing anything it could not record: check the function's "
            "access to its storage account (Table Data Contributor) and its logs; it tries again every run."
        )
    return tuple(out)
