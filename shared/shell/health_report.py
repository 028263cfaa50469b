"""The health view as JSON (``status --json`` and the HTTP health function, the same
document) and as a table for a terminal. Pure.

Every tenant-supplied string (a domain, an error text, a finding kind read back from
a row) is cleaned before it is written: one line, no control, escape or bidi
characters, and in the JSON no clickable URL either (``clean``), because dashboards
render it as they like."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from shared.core.commands import tenant_add
from shared.core.health_view import HealthState, HealthView, TenantHealth
from shared.core.limits import OVERDUE_INTERVALS
from shared.notify.text import MAX_NOTE, clean, one_line, plural
from shared.shell.report import number, table

JSON_VERSION = 1
HTTP_OK = 200
HTTP_UNHEALTHY = 503
_TIME = "%Y-%m-%d %H:%M"
_LABELS = {
    HealthState.COMPLIANT: "compliant",
    HealthState.DRIFT: "drift",
    HealthState.ERROR: "could not check",
    HealthState.NEVER_CHECKED: "never checked",
    HealthState.DISABLED: "disabled",
}


def exit_code(view: HealthView) -> int:
    """The CLI's: 0 all healthy; 1 some tenant has drift, cannot be checked or is
    overdue, or the timer is late. (2, the view could not be read, is the CLI's own.)"""
    return 0 if view.healthy else 1


def http_status(view: HealthView) -> int:
    """The HTTP function's: 503 only when the monitor itself is failing (the timer is
    late or some tenant is overdue), so an uptime monitor can alert on the status
    alone. Drift and a tenant that cannot be checked are the product working: they
    are told by its own notifications, and the document lists them."""
    return HTTP_OK if view.monitor_healthy else HTTP_UNHEALTHY


def _at(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


def _kinds(kinds: Mapping[str, int] | None) -> dict[str, int] | None:
    return None if kinds is None else {clean(k): n for k, n in sorted(kinds.items())}


def tenant_json(t: TenantHealth) -> dict[str, Any]:
    f, c = t.facts, t.facts.clock
    return {
        "tenant": f.tenant,
        "domain": clean(f.domain) if f.domain is not None else None,
        "enabled": f.enabled,
        "interval_minutes": c.interval_minutes,
        "state": str(t.state),
        "last_check": _at(c.last_checked),
        "last_success": _at(c.last_success),
        # As of the last successful check: a could-not-check since then compared nothing.
        "open_findings": f.open_findings,
        "open_finding_kinds": _kinds(f.finding_kinds),
        "overdue": t.overdue,
        "overdue_since": _at(t.overdue_since),
        "overdue_after_minutes": _minutes(t.overdue_after),
        "last_error": clean(f.last_error, MAX_NOTE) if f.last_error else None,
        "last_poisoned": _at(f.last_poisoned),
    }


def document(view: HealthView) -> dict[str, Any]:
    timer = view.timer
    counts: dict[str, int] = {str(state): view.count(state) for state in HealthState}
    return {
        "version": JSON_VERSION,
        "at": view.at.isoformat(),
        "healthy": view.healthy,
        "monitor_healthy": view.monitor_healthy,
        "exit_code": exit_code(view),
        "timer": {
            "last_run": _at(timer.last_run),
            "tick_minutes": _minutes(timer.tick),
            "late": timer.late,
            "late_after_minutes": _minutes(timer.late_after),
            "due": timer.due,
            "enqueued": timer.enqueued,
            "overdue": timer.overdue,
        },
        "counts": {"tenants": len(view.tenants), **counts, "overdue": len(view.overdue)},
        "tenants": [tenant_json(t) for t in view.tenants],
    }


def unreadable() -> dict[str, Any]:
    """The document when the view could not be read (the log says why)."""
    return {
        "version": JSON_VERSION,
        "healthy": False,
        "monitor_healthy": False,
        "exit_code": 2,
        "error": "could not read the health view: see the function's log",
    }


# -- text ------------------------------------------------------------------------------


def _when(moment: datetime | None) -> str:
    return moment.strftime(_TIME) if moment is not None else "-"


def _span(span: timedelta) -> str:
    minutes = _minutes(span)
    if minutes < 120:
        return plural(minutes, "minute")
    hours, rest = divmod(minutes, 60)
    return f"{number(hours)} h {rest} min" if rest else f"{number(hours)} h"


def _timer_line(view: HealthView) -> str:
    timer = view.timer
    if timer.last_run is None:
        if not timer.late:
            return "Timer: never run (no tenant is monitored)"
        return "Timer: LATE: never run (it enqueues every check: is the function app running?)"
    said = f"last run {_when(timer.last_run)} UTC, every {_span(timer.tick)}"
    if timer.late:
        return (
            f"Timer: LATE: {said}; not run for {_span(view.at - timer.last_run)} "
            f"(late after {OVERDUE_INTERVALS} ticks)"
        )
    return f"Timer: {said}: on time ({number(timer.enqueued)} of {number(timer.due)} due enqueued)"


def _findings_cell(t: TenantHealth) -> str:
    f = t.facts
    if f.open_findings is None:
        return "-"
    if not f.finding_kinds:
        return number(f.open_findings)
    kinds = ", ".join(f"{kind} {number(n)}" for kind, n in sorted(f.finding_kinds.items()))
    return f"{number(f.open_findings)} ({kinds})"


def _problems(view: HealthView) -> list[str]:
    lines: list[str] = []
    for t in view.tenants:
        name = one_line(t.facts.domain or t.facts.tenant)
        if t.overdue_since is not None:
            lines.append(
                f"  - {name}: OVERDUE since {_when(t.overdue_since)} UTC: not checked successfully for "
                f"{_span(t.overdue_after)} ({OVERDUE_INTERVALS} of its intervals)"
            )
        if t.state is HealthState.ERROR:
            lines.append(
                f"  - {name}: could not check: {one_line(t.facts.last_error or 'no detail', MAX_NOTE)}"
            )
    return lines


def text(view: HealthView) -> str:
    states = [f"{number(view.count(s))} {_LABELS[s]}" for s in HealthState if view.count(s)]
    summary = f"{plural(len(view.tenants), 'tenant')}" + (f": {', '.join(states)}" if states else "")
    lines = [_timer_line(view), f"{summary}; {number(len(view.overdue))} overdue"]
    if view.tenants:
        # The open findings last: the one column that grows.
        rows = [("TENANT", "DOMAIN", "STATE", "OVERDUE", "LAST CHECK (UTC)", "LAST SUCCESS", "OPEN FINDINGS")]
        rows += [
            (
                t.facts.tenant,
                t.facts.domain or "(row unreadable)",
                _LABELS[t.state],
                f"since {_when(t.overdue_since)}" if t.overdue_since else "no",
                _when(t.facts.clock.last_checked),
                _when(t.facts.clock.last_success),
                _findings_cell(t),
            )
            for t in view.tenants
        ]
        lines += ["", *table(rows)]
    else:
        lines.append(f"No tenant is monitored: add one with {tenant_add()}")
    problems = _problems(view)
    if problems:
        lines += ["", "Needs a look:", *problems]
    return "\n".join(lines) + "\n"
