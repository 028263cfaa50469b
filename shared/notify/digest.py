"""The weekly digest of one tenant: compliant or not, open drift, approved exceptions
and those about to expire, and when it was last checked successfully. Pure: built
from what the history and desired-state tables already hold (no Exchange call)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from shared.core import commands
from shared.core.basic_auth import BASIC_AUTH_OFF_TEXT, BasicAuthPolicy, what_to_do
from shared.core.model import Finding, FindingKind, MailboxException, Status, TenantPolicy
from shared.notify.compose import finding_line
from shared.notify.message import Line, Message, Section, Tone
from shared.notify.text import MAX_NOTE, PRODUCT, clean, plural, smtp, when

EXPIRING_DAYS = 14


@dataclass(frozen=True)
class TenantDigest:
    policy: TenantPolicy
    status: Status | None  # of the last run; None: never checked
    last_checked: datetime | None
    last_success: datetime | None  # last run that could check (compliant or drift)
    open_findings: Sequence[tuple[Finding, datetime]] = ()  # with first seen
    problems: Sequence[str] = ()  # desired-state rows that do not validate
    org_actual: bool | None = None
    basic_auth: BasicAuthPolicy | None = None  # as the last successful run read it


def identity(now: datetime) -> str:
    """One digest per tenant per day, whatever runs and retries happen that day."""
    return f"digest|{now.date().isoformat()}"


def _exception_line(exc: MailboxException, today: date) -> Line:
    days = (exc.expires - today).days
    if days < 0:
        left = f"expired {exc.expires.isoformat()}"
    elif days == 0:
        left = f"expires today ({exc.expires.isoformat()})"
    else:
        left = f"expires {exc.expires.isoformat()} (in {plural(days, 'day')})"
    parts = [left, f"approved by {exc.approver}"]
    if exc.ticket:
        parts.append(f"ticket {exc.ticket}")
    parts.append(exc.reason)
    return Line(clean(exc.mailbox), clean(" · ".join(parts), MAX_NOTE))


def compose_digest(d: TenantDigest, now: datetime) -> Message:
    policy = d.policy
    name = clean(policy.initial_domain or policy.tenant_id)
    today = now.date()
    failing = [(f, since) for f, since in d.open_findings if f.kind.is_compliance_failure]
    at_risk = [(f, since) for f, since in d.open_findings if f.kind is FindingKind.EXCEPTION_USES_BASIC_AUTH]
    hygiene = [
        (f, since)
        for f, since in d.open_findings
        if not f.kind.is_compliance_failure and f.kind is not FindingKind.EXCEPTION_USES_BASIC_AUTH
    ]
    by_expiry = sorted(policy.exceptions, key=lambda e: (e.expires, e.mailbox))
    expired = [e for e in by_expiry if e.expires < today]
    expiring = [e for e in by_expiry if 0 <= (e.expires - today).days <= EXPIRING_DAYS]
    later = [e for e in by_expiry if (e.expires - today).days > EXPIRING_DAYS]

    if d.status is None:
        state, tone = "not checked yet", Tone.WARNING
    elif d.status is Status.ERROR:
        state, tone = "could not check", Tone.WARNING
    elif failing:
        state, tone = f"drift: {plural(len(failing), 'open finding')}", Tone.ATTENTION
    else:
        state, tone = "compliant", Tone.GOOD
    summary = state
    if expiring:
        summary += f"; {plural(len(expiring), 'exception')} expiring within {EXPIRING_DAYS} days"

    facts = [
        ("Tenant", name if name == policy.tenant_id else f"{name} ({policy.tenant_id})"),
        ("Status", state),
        ("Last check", when(d.last_checked) if d.last_checked else "never"),
        ("Last successful check", when(d.last_success) if d.last_success else "never"),
    ]
    if d.org_actual is not None:  # known only from a run that could check
        facts.append(
            ("Organization SMTP AUTH", f"{smtp(d.org_actual)} (policy: {smtp(policy.desired_org_disabled)})")
        )
    if d.basic_auth is not None:
        facts.append(("Basic SMTP AUTH", d.basic_auth.summary(d.org_actual)))
    facts += [("Approved exceptions", f"{len(policy.exceptions):,}"), ("Mode", str(policy.mode))]

    sections: list[Section] = []
    if d.problems:
        lines = tuple(Line(clean(p, MAX_NOTE)) for p in d.problems)
        sections.append(Section(f"Desired-state problems ({len(lines):,})", lines, tone=Tone.WARNING))
    if failing:
        lines = tuple(finding_line(f, since) for f, since in failing)
        sections.append(Section(f"Open drift ({len(lines):,})", lines, tone=Tone.ATTENTION))
    if at_risk:
        lines = tuple(finding_line(f, since) for f, since in at_risk)
        heading = f"Exceptions that stop working when Basic auth goes ({len(lines):,})"
        sections.append(Section(heading, lines, tone=Tone.WARNING))
    for heading, items, section_tone in (
        (f"Expiring within {EXPIRING_DAYS} days", expiring, Tone.WARNING),
        ("Expired", expired, Tone.WARNING),
        ("Other approved exceptions", later, Tone.DEFAULT),
    ):
        if items:
            lines = tuple(_exception_line(e, today) for e in items)
            sections.append(Section(f"{heading} ({len(lines):,})", lines, tone=section_tone))
    if hygiene:
        lines = tuple(finding_line(f, since) for f, since in hygiene)
        sections.append(Section(f"Housekeeping ({len(lines):,})", lines))

    tenant = policy.tenant_id
    todo: list[str] = []
    seen: set[FindingKind] = set()
    for finding, _ in failing:
        if finding.kind not in seen:
            seen.add(finding.kind)
            todo.append(clean(finding.message, MAX_NOTE))
    if at_risk:
        todo.append(
            f"Before {BASIC_AUTH_OFF_TEXT}, move each device or app that still signs in with Basic auth: "
            + what_to_do()
        )
    if expiring:
        todo.append(
            "Renew an exception that is still needed before it runs out (same command, a new date): "
            + commands.exception_add(tenant)
        )
    if expired or hygiene:
        todo.append(f"Remove exceptions nobody needs: {commands.exception_remove(tenant)}")
    return Message(
        title=clean(f"Weekly SMTP AUTH summary: {name}", 200),
        summary=clean(summary),
        tone=tone,
        facts=tuple((k, clean(v)) for k, v in facts),
        sections=tuple(sections),
        todo=tuple(todo),
        footer=clean(f"{PRODUCT} · tenant {tenant} · weekly digest for {today.isoformat()}"),
    )
