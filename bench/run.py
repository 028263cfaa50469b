"""``make bench``: every measurement of issue 5 in one run; writes docs/performance.md
and prints the same. The model and the method are in bench/README.md.

Each scan variant runs in its own fresh Python process against the simulator
running as a separate process; Azurite holds the product's tables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import cold_start, report, scaleout
from bench.report import MARKER, SizeResult
from bench.seed import write_desired_state
from bench.simproc import SimProcess, TenantShape
from shared.adapters.exchange_transport import ANCHOR_MAILBOX, EXCHANGE_SCOPE, PAGE_SIZE
from shared.adapters.smtp_auth import MAILBOX_PROPERTIES
from sim.__main__ import spread
from sim.azurite import Azurite
from sim.cas_mailbox_object import CAS_MAILBOX_PROPERTIES

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "performance.md"
BENCH_README = ROOT / "bench" / "README.md"

# Latency model of Exchange Online's InvokeCommand (bench/README.md says why).
PER_REQUEST_MS = 150.0
PER_KB_MS = 0.2

TENANT = "3c9e1f4a-6b2d-4e8f-a1c3-5d7e9f0b2a4c"
DOMAIN = "fabrikam.onmicrosoft.com"
ENABLED = 10  # mailboxes with SMTP AUTH switched on; APPROVED of them have an exception
APPROVED = 5
COLD_SAMPLES = 9


@dataclass(frozen=True)
class Plan:
    mailboxes: int
    reps: int  # runs of (a) and (b)
    full_reps: int  # runs of (c), the slow one
    latency: bool = True


PLANS = (
    Plan(1_000, 3, 3),
    Plan(10_000, 3, 3),
    Plan(100_000, 3, 1),
)
CPU_BOUND = Plan(100_000, 3, 1, latency=False)  # the client's own cost, nothing hidden by waiting


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def shape(mailboxes: int) -> TenantShape:
    # About 1% of mailboxes carry an explicit "off" (+1: at 1,000 the simulator's even
    # spread would put all ten on the "on" mailboxes and skip them); a few have SMTP AUTH on.
    return TenantShape(mailboxes, ENABLED, mailboxes // 100 + 1)


def approved_addresses(mailboxes: int) -> list[str]:
    # The simulator picks the "on" mailboxes with spread(); approve the first few.
    width = max(5, len(str(mailboxes - 1)))
    return [f"user{n:0{width}d}@{DOMAIN}" for n in spread(mailboxes, ENABLED)[:APPROVED]]


def run_variant(variant: str, config: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.scan_variants", variant, json.dumps(config)],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{variant} failed ({out.returncode}): {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


@contextmanager
def tenant_under_test(plan: Plan, azurite: Azurite) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    """A simulator process with the tenant, its desired state in fresh tables, and
    the app settings a deployment would have, pointed at both."""
    latency = (PER_REQUEST_MS, PER_KB_MS) if plan.latency else (0.0, 0.0)
    prefix = "Bench" + uuid.uuid4().hex[:10]
    with SimProcess(
        shape(plan.mailboxes),
        tenant_id=TENANT,
        domain=DOMAIN,
        latency_ms=latency[0],
        latency_ms_per_kb=latency[1],
    ) as sim:
        asyncio.run(
            write_desired_state(
                azurite.connection_string, prefix, TENANT, DOMAIN, approved_addresses(plan.mailboxes)
            )
        )
        config = dict(sim.info)
        config["protocol"] = {
            "resource": EXCHANGE_SCOPE.removesuffix("/.default"),
            "anchor": ANCHOR_MAILBOX.format(tenant=TENANT),
            "page_size": PAGE_SIZE,
            "select": list(MAILBOX_PROPERTIES),
        }
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SMTPAUTH_", "AZURE_", "MSI_"))},
            "AzureWebJobsStorage": azurite.connection_string,
            "SMTPAUTH_EXCHANGE_URL": sim.info["exchange_url"],
            "SMTPAUTH_GRAPH_URL": sim.info["exchange_url"],
            "SMTPAUTH_TABLE_PREFIX": prefix,
            "IDENTITY_ENDPOINT": sim.info["identity_endpoint"],
            "IDENTITY_HEADER": sim.info["identity_header"],
        }
        yield config, env


def scan(plan: Plan, azurite: Azurite, profile: bool = False) -> tuple[SizeResult, dict[str, Any] | None]:
    result = SizeResult(plan.mailboxes, plan.latency, {v: [] for v in report.VARIANTS})
    profiled = None
    with tenant_under_test(plan, azurite) as (config, env):
        order = list(report.VARIANTS)
        for rep in range(plan.reps):
            # Rotate the order so slow drift of the machine does not favour one variant.
            for variant in order[rep % 3 :] + order[: rep % 3]:
                if variant == "full" and len(result.runs["full"]) >= plan.full_reps:
                    continue
                figures = run_variant(variant, config, env)
                result.runs[variant].append(figures)
                say(
                    f"  {plan.mailboxes:>7,} {'latency' if plan.latency else 'no latency'}: {variant:7} "
                    f"{figures['wall_s']:7.2f} s {figures['requests']:4} requests "
                    f"{figures['peak_rss_mb']:5.0f} MB"
                )
        expected = sum(config["overrides"].values())
        for figures in result.runs["full"]:
            if figures["overrides_seen"] != expected:
                raise RuntimeError(f"(c) saw {figures['overrides_seen']} overrides, expected {expected}")
        if profile:
            out = subprocess.run(
                [sys.executable, "-m", "bench.profile_check", "14"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=True,
            )
            profiled = json.loads(out.stdout.strip().splitlines()[-1])
    return result, profiled


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{mem_kb / 2**20:.0f} GiB"
    except OSError:
        memory = "unknown"
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "commit": commit or "unknown",
    }


def render(
    info: dict[str, str],
    sizes: list[SizeResult],
    cpu_bound: SizeResult,
    cold: list[cold_start.Target],
    profile: dict[str, Any],
    elapsed_s: float,
) -> str:
    big = sizes[-1]
    org_bytes = big.runs["product"][-1]["bytes"] - big.runs["bare"][-1]["bytes"]
    no_change = big.runs["product"][-1]
    full_each = big.runs["full"][-1]["bytes"] / big.mailboxes
    imports_mb = max(r["rss_after_imports_mb"] for r in big.runs["product"])
    reads = ", ".join(o["table"] for o in no_change["table_ops"] if o["kind"] == "read")
    creates = sum(o["count"] for o in no_change["table_ops"] if o["kind"] == "create")
    heavy = ", ".join(
        sorted({m for s in sizes for r in s.runs["product"] for m in r["heavy_modules_loaded"]})
    )
    return f"""# Performance

<!-- Generated by `make bench` (bench/run.py) from one run; edit bench/, not this part.
     Sections below the marker line at the end are hand-written and kept. -->

Measured {info["date"]} on {info["cpu"]}, {info["memory"]}, {info["os"]}, Python {info["python"]},
commit `{info["commit"]}`; the whole run took {elapsed_s / 60:.1f} minutes. Method and latency model:
[bench/README.md](../bench/README.md).

## Targets

{report.targets_table(sizes, [*sizes, cpu_bound], cold)}

## Scan: the product against the API's own limit

Simulated Exchange Online latency: **{PER_REQUEST_MS:.0f} ms per request + {PER_KB_MS} ms per KB** of
response body, on top of the simulator's own time to build a page. Tenants hold
1% mailboxes with an explicit "off" and {ENABLED} with SMTP AUTH on ({APPROVED} approved).

* (a) the product's full `check` (`shared.shell.jobs.scheduled_check`: managed identity token,
  desired state, org setting, every page, evaluation, run history in Azurite);
* (b) the lower bound: a bare aiohttp loop over the same pages (same `$select`, same page size),
  one token, `json.loads` of each page only to find the next link;
* (c) the common approach: the same loop without `$select` (full CAS mailbox objects,
  {len(CAS_MAILBOX_PROPERTIES)} properties, {full_each / 1000:.1f} KB each), reading one property per object.

Wall time is the check itself after imports (cold start is below); requests and bytes are
the Exchange InvokeCommand calls and their response bodies, counted by the client
(MB = 10^6 bytes); peak RSS is the variant's own process (`ru_maxrss`).

{report.scan_table(sizes)}

{report.ratio_table(sizes)}

Cross-check: at {big.mailboxes:,} mailboxes (a) received exactly (b)'s bytes plus the
org-setting answer ({org_bytes} bytes): the product fetches the same pages and nothing more.
Peak RSS is mostly libraries: (a)'s process held {imports_mb:.0f} MB after its imports, so the
{big.mailboxes:,}-mailbox check itself added about {big.peak_rss("product") - imports_mb:.0f} MB.

### Without simulated latency: the client's own cost

The same three variants at {cpu_bound.mailboxes:,} mailboxes against a simulator that answers as fast as it
can build a page. This is where client overhead would show; it is not how Exchange Online behaves.

{report.scan_table([cpu_bound])}

{report.ratio_table([cpu_bound])}

## Cold start

{report.cold_table(cold)}

The host imports `function_app` to index the functions; the check's own imports
(`shared.shell.jobs`, azure-identity, azure-data-tables, aiohttp) are paid by the first timer run,
inside the function call, not at indexing. msgraph and any telemetry library load only
when used; after a full check, the (a) processes had loaded: {heavy or "none of them"}.

## Table Storage operations per run

Every HTTP request the product's table clients sent, counted at the transport. The same
tenant is checked several times, so the first run opens the findings and the later runs
see no change.

{report.writes_table(sizes)}

The no-change run at {big.mailboxes:,} mailboxes, request by request:

{report.ops_table(no_change)}

None of these grows with the tenant. The reads are one query each on {reads}; the
writes are the run row and the tenant's health row (what `status` reads), plus, when
findings open, change or resolve, batch transactions of up to 100 rows in one partition
(the first runs above: one transaction for the findings and one for their events). The {creates} create-table requests are `ensure_tables`
in `open_runtime`: each run here is a fresh process, so each pays them once (answered 409);
a warm Functions worker remembers the tables and skips them on later runs.

## Hot path profile ({cpu_bound.mailboxes:,} mailboxes, no latency, cProfile)

{report.profile_table(profile)}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="1,000 and 10,000 mailboxes, few runs (a smoke test)"
    )
    parser.add_argument("--output", type=Path, default=None, help=f"default: {OUTPUT.relative_to(ROOT)}")
    parser.add_argument(
        "--only",
        choices=["scaleout"],
        help="run one section and rewrite only its part of the output (scaleout: about 25 minutes)",
    )
    args = parser.parse_args(argv)
    if args.only == "scaleout":
        return scaleout_only(args.output or OUTPUT, quick=args.quick)
    plans, cpu_plan = PLANS, CPU_BOUND
    if args.quick:
        plans = tuple(Plan(p.mailboxes, 2, 1) for p in PLANS if p.mailboxes <= 10_000)
        cpu_plan = Plan(10_000, 1, 1, latency=False)
    output = args.output or (ROOT / "out" / "performance-quick.md" if args.quick else OUTPUT)
    started = time.perf_counter()
    info = machine()
    say(f"bench: {info['cpu']}, Python {info['python']}, commit {info['commit']}")
    samples = 3 if args.quick else COLD_SAMPLES
    say(f"cold start: {samples} fresh interpreters per import ...")
    cold = cold_start.measure(samples)
    sizes: list[SizeResult] = []
    with Azurite() as azurite:
        for plan in plans:
            say(f"scan: {plan.mailboxes:,} mailboxes, {PER_REQUEST_MS:.0f} ms + {PER_KB_MS} ms/KB ...")
            sizes.append(scan(plan, azurite)[0])
        say(f"scan: {cpu_plan.mailboxes:,} mailboxes without latency, then a profile ...")
        cpu_bound, profile = scan(cpu_plan, azurite, profile=True)
        fleet = scaleout.measure(azurite, PER_REQUEST_MS, PER_KB_MS, tenants=100 if args.quick else 1000)
    assert profile is not None
    text = render(info, sizes, cpu_bound, cold, profile, time.perf_counter() - started)
    text = scaleout.splice(text, scaleout.render(fleet), MARKER)
    if not args.quick:
        scaleout.write_readme(BENCH_README, fleet)
    output.parent.mkdir(parents=True, exist_ok=True)
    existing = output.read_text() if output.exists() else None
    output.write_text(report.merge(text, existing))
    print(text.rstrip())
    print(f"\n{MARKER}\n(hand-written sections, if any, are kept in {output})")
    return 0


def scaleout_only(output: Path, *, quick: bool) -> int:
    """The scale-out section alone, spliced into the existing output (the rest stays)."""
    info = machine()
    say(f"bench (scale-out only): {info['cpu']}, Python {info['python']}, commit {info['commit']}")
    started = time.perf_counter()
    with Azurite() as azurite:
        fleet = scaleout.measure(azurite, PER_REQUEST_MS, PER_KB_MS, tenants=100 if quick else 1000)
    section = scaleout.render(fleet, measured=info, elapsed_s=time.perf_counter() - started)
    if quick:
        output = ROOT / "out" / "performance-quick.md"
    existing = output.read_text() if output.exists() else ""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(scaleout.splice(existing, section, MARKER))
    if not quick:
        scaleout.write_readme(BENCH_README, fleet)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
