"""docs/performance.md from one benchmark run: markdown tables, and the merge that
keeps hand-written sections below MARKER across runs."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.cold_start import Target

MARKER = "<!-- hand-written sections below are kept by make bench -->"
VARIANTS = {
    "product": "(a) product check",
    "bare": "(b) lower bound",
    "full": "(c) full objects",
}
RATIO_TARGET = 1.10
RSS_TARGET_MB = 150
COLD_START_TARGET_S = 0.25


@dataclass
class SizeResult:
    mailboxes: int
    latency: bool
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.mailboxes / 1000))

    def wall(self, variant: str) -> float:
        return statistics.median(r["wall_s"] for r in self.runs[variant])

    def ratio(self, top: str, bottom: str) -> float:
        return self.wall(top) / self.wall(bottom)

    def peak_rss(self, variant: str) -> float:
        return max(r["peak_rss_mb"] for r in self.runs[variant])


def merge(generated: str, existing: str | None) -> str:
    """The new generated part, then whatever stood below MARKER. A file without the
    marker was written by hand entirely: all of it is kept below the marker."""
    if existing is None or not existing.strip():
        tail = "\n"
    elif MARKER in existing:
        tail = existing.split(MARKER, 1)[1]
    else:
        tail = "\n\n" + existing.strip() + "\n"
    return generated.rstrip() + "\n\n" + MARKER + tail


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e6 else f"{n / 1e3:,.0f} KB"


def _spread(values: Sequence[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.2f} s"
    return f"{statistics.median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


def _met(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def scan_table(sizes: Sequence[SizeResult]) -> str:
    lines = [
        "| mailboxes | variant | wall time, median (min–max) | runs | Exchange requests "
        + "| bytes received | peak RSS |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        for i, (variant, label) in enumerate(VARIANTS.items()):
            runs = size.runs[variant]
            lines.append(
                f"| {f'{size.mailboxes:,}' if i == 0 else ''} | {label} "
                f"| {_spread([r['wall_s'] for r in runs])} | {len(runs)} "
                f"| {runs[-1]['requests']:,} | {_mb(runs[-1]['bytes'])} | {size.peak_rss(variant):.0f} MB |"
            )
    return "\n".join(lines)


def ratio_table(sizes: Sequence[SizeResult]) -> str:
    lines = [
        "| mailboxes | pages | (a)/(b) wall | (c)/(a) wall | (c)/(a) bytes | (c)/(a) peak RSS |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for s in sizes:
        a, c = s.runs["product"][-1], s.runs["full"][-1]
        lines.append(
            f"| {s.mailboxes:,} | {s.pages:,} | {s.ratio('product', 'bare'):.3f} "
            f"| {s.ratio('full', 'product'):.2f} | {c['bytes'] / a['bytes']:.1f} "
            f"| {s.peak_rss('full') / s.peak_rss('product'):.2f} |"
        )
    return "\n".join(lines)


def requests_ok(sizes: Sequence[SizeResult]) -> tuple[bool, str]:
    """Every product run sent exactly one Get-CASMailbox per page and each other read
    once (the org setting, the authentication policy: pages + 2, or + 3 when the tenant
    has a default authentication policy); no retries either."""
    seen = []
    ok = True
    for s in sizes:
        counts = sorted({r["requests"] for r in s.runs["product"]})
        for r in s.runs["product"]:
            cmdlets = dict(r.get("cmdlets") or {})
            pages = cmdlets.pop("Get-CASMailbox", 0)
            ok &= pages == s.pages and bool(cmdlets) and set(cmdlets.values()) == {1}
            ok &= r["requests"] == s.pages + len(cmdlets)
        ok &= all(r["requests"] == s.pages for r in s.runs["bare"])
        others = sorted(
            {n for r in s.runs["product"] for n in (r.get("cmdlets") or {}) if n != "Get-CASMailbox"}
        )
        where = "" if s.latency else " (no latency)"
        seen.append(
            f"{s.mailboxes:,}{where}: {'/'.join(map(str, counts))} = {s.pages} + {len(others)} ({', '.join(others)})"
        )
    return ok, "; ".join(seen)


def targets_table(
    latency_sizes: Sequence[SizeResult], all_sizes: Sequence[SizeResult], cold: Sequence[Target]
) -> str:
    big = max(latency_sizes, key=lambda s: s.mailboxes)
    ratio = big.ratio("product", "bare")
    rss = max(s.peak_rss("product") for s in all_sizes if s.mailboxes == big.mailboxes)
    req_ok, req_text = requests_ok(all_sizes)
    base, app = cold[0], cold[1]
    extra = app.median_s - base.median_s
    lazy_ok = not app.loaded
    return "\n".join(
        [
            "| target | figure | |",
            "|---|---|---|",
            f"| (a)/(b) wall time ≤ {RATIO_TARGET:.2f} at {big.mailboxes:,} mailboxes "
            + f"| {ratio:.3f} ({big.wall('product'):.2f} s / {big.wall('bare'):.2f} s) "
            + f"| {_met(ratio <= RATIO_TARGET)} |",
            f"| peak RSS of a {big.mailboxes:,}-mailbox check ≤ {RSS_TARGET_MB} MB "
            + f"| {rss:.0f} MB (largest of its runs, with and without latency) "
            + f"| {_met(rss <= RSS_TARGET_MB)} |",
            "| Exchange requests = pages + each other read once (org setting, authentication policy), "
            + f"every run | {req_text} | {_met(req_ok)} |",
            f"| import of function_app ≤ azure.functions alone + {COLD_START_TARGET_S} s "
            + f"| +{extra:.3f} s ({app.median_s:.3f} s vs {base.median_s:.3f} s) "
            + f"| {_met(extra <= COLD_START_TARGET_S)} |",
            "| msgraph, telemetry, azure.identity, Table Storage, aiohttp not imported by function_app "
            + f"| {', '.join(app.loaded) or 'none of them loaded'} | {_met(lazy_ok)} |",
        ]
    )


def cold_table(cold: Sequence[Target]) -> str:
    base = cold[0]
    lines = [
        f"| import (median of {base.samples} fresh interpreters) | time | above azure.functions "
        + "| RSS after import | modules | lazy modules loaded |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for t in cold:
        above = "" if t is base else f"+{t.median_s - base.median_s:.3f} s"
        lines.append(
            f"| `{t.name}` | {t.median_s:.3f} s | {above} | {t.rss_mb:.0f} MB | {t.modules} "
            f"| {', '.join(t.loaded) or 'none'} |"
        )
    return "\n".join(lines)


def writes_table(sizes: Sequence[SizeResult]) -> str:
    lines = [
        "| mailboxes | run | findings opened / unchanged | Table Storage requests | reads "
        + "| create table (409: exists) | writes | entities written |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for s in sizes:
        runs = s.runs["product"]
        shown = [("first", runs[0])] + ([("no change", runs[-1])] if len(runs) > 1 else [])
        for label, run in shown:
            ops = run["table_ops"]

            def count(kind: str, ops: list[dict[str, Any]] = ops) -> int:
                return sum(o["count"] for o in ops if o["kind"] == kind)

            entities = sum(o["count"] * o["entities"] for o in ops)
            ch = run["changes"] or {}
            lines.append(
                f"| {s.mailboxes:,} | {label} | {ch.get('opened', '?')} / {ch.get('unchanged', '?')} "
                f"| {run['table_requests']} | {count('read')} | {count('create')} | {count('write')} "
                f"| {entities} |"
            )
    return "\n".join(lines)


def ops_table(run: dict[str, Any]) -> str:
    lines = ["| request | table | requests | kind | entities written |", "|---|---|---:|---|---:|"]
    for o in run["table_ops"]:
        lines.append(
            f"| {o['op']} | {o['table']} | {o['count']} | {o['kind']} | {o['count'] * o['entities']} |"
        )
    statuses = ", ".join(f"{k}: {v}" for k, v in run["table_statuses"].items())
    lines.append(f"\nHTTP statuses of these requests: {statuses}.")
    return "\n".join(lines)


def profile_table(profile: dict[str, Any]) -> str:
    lines = [
        f"Profiled CPU time {profile['profiled_s']:.2f} s, of which the event loop waited on I/O "
        + f"{profile['waiting_s']:.2f} s; own time in our code (shared/) {profile['ours_own_s']:.3f} s.",
        "",
        "| function (own time, most first) | ours | calls | own | cumulative |",
        "|---|---|---:|---:|---:|",
    ]
    for r in profile["top"]:
        lines.append(
            f"| `{r['function']}` | {'yes' if r['ours'] else ''} | {r['calls']:,} "
            f"| {r['own_s']:.3f} s | {r['cum_s']:.3f} s |"
        )
    return "\n".join(lines)
