"""One view of a notification, rendered by card.py (Teams) and email.py (mail), so
both say the same thing. Pure.

Strings in a Message are raw text: tenant-supplied parts (mailbox addresses,
reasons, error text) are only cleaned of control characters and clipped here; each
renderer escapes every string for its own format. The renderers add formatting
through their own structure (card weights, HTML tags), never through the text.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.core import commands
from shared.core.model import (
    ActionKind,
    ActionResult,
    ActionStatus,
    CheckResult,
    Finding,
    FindingKind,
    Status,
)
from shared.notify.events import Event, EventKind

MAX_TEXT = 300  # one value (an address, a reason); longer is clipped with "…"
MAX_NOTE = 1000  # an error message or a remediation note
MAX_EVIDENCE = 3  # sign-ins shown per held action
PRODUCT = "SMTP AUTH Guard"

# Bidirectional overrides can make "moc.live@" read as "@evil.com": never pass them on.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"))
_SPACE = re.compile(r"\s+")


def clean(text: object, limit: int = MAX_TEXT) -> str:
    """One line of plain text: no control or bidi characters, whitespace collapsed,
    at most ``limit`` characters, no clickable URL."""
    raw = str(text).translate(_BIDI)
    raw = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in raw)
    raw = _SPACE.sub(" ", raw).strip()
    raw = raw if len(raw) <= limit else raw[: limit - 1].rstrip() + "…"
    # An invisible word joiner in "://": a URL in tenant text stays readable but no
    # client turns it into a link to click.
    return raw.replace("://", ":\u2060//")


def when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class Tone(StrEnum):
    ATTENTION = "attention"  # wrong and needs someone
    WARNING = "warning"  # unknown, held, still open
    GOOD = "good"  # resolved, recovered, fixed
    DEFAULT = "default"


@dataclass(frozen=True)
class Line:
    text: str
    detail: str = ""


@dataclass(frozen=True)
class Section:
    heading: str
    lines: tuple[Line, ...] = ()
    more: int = 0  # lines left out ("and N more")
    tone: Tone = Tone.DEFAULT
    note: str = ""

    def limited(self, count: int) -> Section:
        if len(self.lines) <= count:
            return self
        return replace(self, lines=self.lines[:count], more=self.more + len(self.lines) - count)


@dataclass(frozen=True)
class Message:
    title: str
    summary: str
    tone: Tone
    facts: tuple[tuple[str, str], ...] = ()
    sections: tuple[Section, ...] = ()
    todo: tuple[str, ...] = ()
    footer: str = ""

    @property
    def subject(self) -> str:
        """The mail subject: the title plus the one-line summary, plain text."""
        return clean(f"[{PRODUCT}] {self.title}: {self.summary}", 250)

    @property
    def line_count(self) -> int:
        return max((len(s.lines) for s in self.sections), default=0)

    def limited(self, per_section: int) -> Message:
        return replace(self, sections=tuple(s.limited(per_section) for s in self.sections))

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Message:
        data: dict[str, Any] = json.loads(text)
        return cls(
            title=data["title"],
            summary=data["summary"],
            tone=Tone(data["tone"]),
            facts=tuple((k, v) for k, v in data["facts"]),
            sections=tuple(
                Section(
                    heading=s["heading"],
                    lines=tuple(Line(**line) for line in s["lines"]),
                    more=s["more"],
                    tone=Tone(s["tone"]),
                    note=s["note"],
                )
                for s in data["sections"]
            ),
            todo=tuple(data["todo"]),
            footer=data["footer"],
        )


def fit(message: Message, size: Callable[[Message], int], limit: int) -> Message:
    """The message with as many lines per section as keep ``size`` within ``limit``;
    the rest become "and N more". Falls back to title and summary alone."""
    if size(message) <= limit:
        return message
    # Every rendering spends well over 16 characters a line: no need to try more.
    low, high = 0, min(message.line_count, limit // 16)  # invariant: `low` lines fit
    if size(message.limited(0)) > limit:
        bare = Message(message.title, message.summary, message.tone, footer=message.footer)
        return bare if size(bare) <= limit else Message(clean(message.title, 80), "", message.tone)
    while low < high:
        mid = (low + high + 1) // 2
        if size(message.limited(mid)) <= limit:
            low = mid
        else:
            high = mid - 1
    return message.limited(low)


# -- check results -> messages ----------------------------------------------------

_KIND_LABEL = {
    FindingKind.ORG_SETTING_DRIFT: "organization switch",
    FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION: "no approved exception",
    FindingKind.MAILBOX_EXCEPTION_EXPIRED: "exception expired",
    FindingKind.EXCEPTION_UNUSED: "exception not used",
}
_STATUS_LABEL = {Status.COMPLIANT: "Compliant", Status.DRIFT: "Drift", Status.ERROR: "Could not check"}


def smtp(disabled: bool | None) -> str:
    """What SmtpClientAuthenticationDisabled means for a person: True is OFF."""
    return {True: "off", False: "ON", None: "follows the org"}[disabled]


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def finding_line(finding: Finding, since: datetime | None = None, *, resolved: bool = False) -> Line:
    target = "Organization (Set-TransportConfig)" if finding.kind is FindingKind.ORG_SETTING_DRIFT else None
    label = _KIND_LABEL[finding.kind]
    if resolved:
        detail = f"{label}: resolved"
    else:
        detail = f"{label}: SMTP AUTH {smtp(finding.actual)}, policy: {smtp(finding.desired)}"
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
        rows.append(("Open findings", f"{sum(f.kind.is_compliance_failure for f in result.findings):,}"))
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
    applied, held = kinds.get(EventKind.REMEDIATION_APPLIED, []), kinds.get(EventKind.REMEDIATION_HELD, [])
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
        ("Still open", [e for e in reminded if e.finding], Tone.ATTENTION, False),
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
                note=clean(stopped_event.note or "", MAX_NOTE),
                tone=Tone.ATTENTION,
            )
        )
    note = clean(result.remediation.note, MAX_NOTE) if result.remediation and stopped_event is None else ""
    for heading, items, section_tone in (
        ("Fixed by remediation", applied, Tone.GOOD),
        ("Remediation held", held, Tone.WARNING),
        ("Remediation failed", failed, Tone.ATTENTION),
    ):
        if items:
            lines = tuple(action_line(e.action) for e in items if e.action is not None)
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


def _headline(result: CheckResult, kinds: dict[EventKind, list[Event]], name: str) -> tuple[str, Tone]:
    if EventKind.COULD_NOT_CHECK in kinds:
        return f"Could not check SMTP AUTH in {name}", Tone.WARNING
    if EventKind.REMINDER in kinds:
        if result.status is Status.ERROR:
            return f"Reminder: still cannot check SMTP AUTH in {name}", Tone.WARNING
        return f"Reminder: SMTP AUTH drift still open in {name}", Tone.ATTENTION
    if EventKind.DRIFT_OPENED in kinds or EventKind.DRIFT_CHANGED in kinds:
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
    open_now = sum(f.kind.is_compliance_failure for f in result.findings)
    if open_now and (EventKind.REMINDER in kinds or open_now > fresh):
        parts.append(f"{open_now:,} open")
    for label, kind in (
        ("applied", EventKind.REMEDIATION_APPLIED),
        ("held", EventKind.REMEDIATION_HELD),
        ("failed", EventKind.REMEDIATION_FAILED),
    ):
        if count.get(kind):
            parts.append(f"remediation {label}: {count[kind]:,}")
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
            f"rows; the whole error: python -m shared check --tenant {tenant}"
        )
    # One exact fix per kind of open finding, as the check's own message gives it.
    seen: set[FindingKind] = set()
    for event in events:
        finding = event.finding
        if finding is None or event.kind is EventKind.DRIFT_RESOLVED or finding.kind in seen:
            continue
        if finding.kind.is_compliance_failure:
            seen.add(finding.kind)
            out.append(clean(finding.message, MAX_NOTE))
    if seen:
        out.append(
            "A mailbox that must keep SMTP AUTH (a scanner, an app) needs an approved exception: "
            f"{commands.exception_add(tenant)} (list them: {commands.exception_list(tenant)})"
        )
    if EventKind.REMEDIATION_HELD in kinds:
        out.append(
            "Held changes wait for a person: approve the mailbox with an exception (the reason gives "
            "the command) or agree the change with its owner; remediation tries again every run."
        )
    if EventKind.REMEDIATION_FAILED in kinds:
        out.append(f"Every remediation attempt and its error: python -m shared audit --tenant {tenant}")
    if EventKind.REMEDIATION_STOPPED in kinds:
        out.append(
            "Remediation stopped before changing anything it could not record: check the function's "
            "access to its storage account (Table Data Contributor) and its logs; it tries again every run."
        )
    return tuple(out)


# -- delivery problems, told in the next message that gets through -----------------


@dataclass(frozen=True)
class Undelivered:
    title: str
    channel: str
    queued_at: datetime
    error: str = ""
    attempts: int = 0


def with_undelivered(message: Message, items: Sequence[Undelivered]) -> Message:
    if not items:
        return message
    lines = tuple(
        Line(
            clean(item.title),
            clean(
                f"{item.channel}, queued {when(item.queued_at)}, given up after {item.attempts} attempts: "
                f"{item.error}",
                MAX_NOTE,
            ),
        )
        for item in items
    )
    section = Section(
        f"Earlier notifications that could not be delivered ({len(lines):,})",
        lines,
        tone=Tone.WARNING,
        note="Check the webhook app setting, the mail sender and the identity's Mail.Send permission.",
    )
    return replace(message, sections=(*message.sections, section))
