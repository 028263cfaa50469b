"""The scale-out section of ``make bench`` (``python -m bench.run --only scaleout`` runs
just it): one full cycle of a 1,000-tenant fleet (bench/fleet.py) through the queue
path at 1, 4 and 16 concurrent workers, against the in-process sequential loop, in
the same run, against one simulator process with the latency model of bench/README.md.

Each variant starts from fresh tables and a fresh queue (the same desired state: one
tenant row each, defaults), so each is a first cycle of the same fleet, except that
each tenant's health row already holds its size, as every cycle after the first finds
it (the timer enqueues the largest first). A worker is a
process running one invocation at a time (bench/fleet_worker.py): its peak RSS is its
own, and 16 of them are 16 invocations in flight, as 16 instances with batchSize 1
would be (host.json allows 3 per instance: see docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue.aio import QueueClient

from bench.fleet import SMALL_PROBE, FleetSimProcess, FleetTenant, make_fleet, write_spec
from bench.seed import write_tenants
from bench.simproc import ROOT
from sim.azurite import Azurite

WORKERS = (1, 4, 16)
SPEEDUP_TARGET = 12.0  # 16 workers against the sequential loop
INTERVAL_S = 15 * 60  # the default timer interval: a cycle must fit in it
CYCLE_TIMEOUT_S = 3600
MAILBOX_CMDLET = "Get-CASMailbox"  # the paged read; every other read is one request
LOGS = ROOT / "out" / "bench-scaleout"
START = "<!-- scaleout:start (python -m bench.run --only scaleout rewrites this part) -->"
END = "<!-- scaleout:end -->"


CAVEATS = """What this is and is not: the whole fleet ran at full size (no reduction, nothing
extrapolated), and the latency model makes waiting on Exchange cost time, not CPU. But every
process shares one machine: at 16 workers, the workers, Azurite, the simulator and the timer
compete for its cores, and other work on the machine competes too, so the 16-worker figure is
a floor for what 16 separate Functions invocations would do, and the small tenants' invocation
time at 16 workers is mostly waiting for a core. Azurite answers in a loopback round trip;
Azure Table Storage takes a few milliseconds per request, which adds about that times the
table requests per tenant to each invocation (and as much to the sequential loop per tenant)."""


@dataclass
class VariantRun:
    name: str
    workers: int  # 0: the sequential loop
    wall_s: float
    exchange: Counter[str]  # "tenant cmdlet" -> Exchange requests
    tables: int  # Table Storage requests, timer and workers together
    timer_tables: int
    peak_rss_mb: list[float]  # one per worker process
    statuses: Counter[str]
    cpu_s: float = 0.0  # the product's processes (timer and workers, or the loop)
    invocations: dict[str, float] = field(default_factory=dict)  # tenant -> seconds
    # Filled in by measure(): the stand-ins' CPU over the run, the machine's load after it.
    azurite_cpu_s: float = 0.0
    sim_cpu_s: float = 0.0
    load: float = 0.0
    timer_s: float | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class ScaleOut:
    fleet: list[FleetTenant]
    latency: tuple[float, float]
    runs: list[VariantRun]
    bare_probe_s: list[float]  # the two bare requests of each probe tenant

    @property
    def sequential(self) -> VariantRun:
        return self.runs[0]

    def run(self, workers: int) -> VariantRun:
        return next(r for r in self.runs if r.workers == workers)


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def app_env(azurite: Azurite, sim: dict[str, Any], prefix: str, queue: str, **extra: str) -> dict[str, str]:
    """The app settings a deployment would have, pointed at the stand-ins."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SMTPAUTH_", "AZURE_", "MSI_"))},
        "AzureWebJobsStorage": azurite.connection_string,
        "SMTPAUTH_EXCHANGE_URL": sim["exchange_url"],
        "SMTPAUTH_GRAPH_URL": sim["exchange_url"],
        "SMTPAUTH_TABLE_PREFIX": prefix,
        "SMTPAUTH_CHECK_QUEUE": queue,
        "IDENTITY_ENDPOINT": sim["identity_endpoint"],
        "IDENTITY_HEADER": sim["identity_header"],
        # The customer tenants through the multi-tenant app (bench/fleet.py).
        "AZURE_CLIENT_ID": sim["client_id"],
        "SMTPAUTH_HOME_TENANT": sim["home_tenant"],
        "SMTPAUTH_MULTITENANT_APP_ID": sim["app_id"],
        "AZURE_AUTHORITY_HOST": sim["entra_url"],
        "SSL_CERT_FILE": sim["ca_bundle"],
        **extra,
    }


async def _spawn(
    role: str, config: dict[str, Any], env: dict[str, str], log: Any
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.fleet_worker", role, json.dumps(config),
        cwd=ROOT, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
        limit=2**24,  # the totals line lists every tenant
    )  # fmt: skip


async def _line(proc: asyncio.subprocess.Process, what: str) -> dict[str, Any]:
    assert proc.stdout is not None
    raw = await proc.stdout.readline()
    if not raw:
        raise RuntimeError(f"{what} stopped (exit {await proc.wait()}); see its log")
    line: dict[str, Any] = json.loads(raw)
    return line


def _log_files(logs: Path, names: Sequence[str]) -> list[TextIO]:
    return [(logs / f"{name}.log").open("w") for name in names]


async def _queue_cycle(
    workers: int, config: dict[str, Any], env: dict[str, str], tenants: int, logs: Path
) -> VariantRun:
    async with QueueClient.from_connection_string(config["connection"], config["queue"]) as queue:
        with contextlib.suppress(ResourceExistsError):
            await queue.create_queue()  # the workers poll it before the timer sends
    files = _log_files(logs, [f"timer-{workers}", *(f"worker-{workers}-{n}" for n in range(workers))])
    with contextlib.ExitStack() as stack:
        for f in files:
            stack.enter_context(f)
        timer = await _spawn("timer", config, env, files[0])
        procs = [await _spawn("queue", config, env, f) for f in files[1:]]
        for proc in (timer, *procs):
            await _line(proc, "a process")  # ready: imports done, nothing sent yet
        lines: list[dict[str, Any]] = []
        finals: list[dict[str, Any]] = []
        done = asyncio.Event()
        ended: list[float] = []

        async def read(proc: asyncio.subprocess.Process) -> None:
            while True:
                line = await _line(proc, "a queue worker")
                if line.get("done"):
                    finals.append(line)
                    return
                lines.append(line)
                if sum("tenant" in x for x in lines) >= tenants and not done.is_set():
                    ended.append(time.perf_counter())
                    done.set()

        readers = [asyncio.create_task(read(p)) for p in procs]
        start = time.perf_counter()
        for proc in (timer, *procs):  # the timer fans out, the workers start polling
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        fan = await _line(timer, "the timer")
        await timer.wait()
        await asyncio.wait_for(done.wait(), CYCLE_TIMEOUT_S)
        for proc in procs:
            proc.terminate()  # each finishes its invocation (none left) and prints its totals
        await asyncio.gather(*readers)
        for proc in procs:
            await proc.wait()
    exchange: Counter[str] = Counter()
    for final in finals:
        exchange.update(final["exchange"])
    checks = [x for x in lines if "tenant" in x]
    return VariantRun(
        name=f"queue, {workers} worker{'s' if workers > 1 else ''}",
        workers=workers,
        wall_s=ended[0] - start,
        exchange=exchange,
        tables=fan["tables"] + sum(f["tables"] for f in finals),
        timer_tables=fan["tables"],
        peak_rss_mb=[f["peak_rss_mb"] for f in finals],
        cpu_s=fan["cpu_s"] + sum(f["cpu_s"] for f in finals),
        statuses=Counter(f"{x['outcome']}/{x['status']}" for x in checks),
        invocations={x["tenant"]: x["s"] for x in checks},
        timer_s=fan["wall_s"],
        errors=[x["error"] for x in lines if "error" in x],
    )


def _sequential(config: dict[str, Any], env: dict[str, str], logs: Path) -> VariantRun:
    import subprocess

    with open(logs / "sequential.log", "w") as log:
        out = subprocess.run(
            [sys.executable, "-m", "bench.fleet_worker", "sequential", json.dumps(config)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True, timeout=CYCLE_TIMEOUT_S,
            check=False,
        )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"the sequential loop failed ({out.returncode}): see {logs / 'sequential.log'}")
    final = json.loads(out.stdout.strip().splitlines()[-1])
    return VariantRun(
        name="sequential loop",
        workers=0,
        wall_s=final["wall_s"],
        exchange=Counter(final["exchange"]),
        tables=final["tables"],
        timer_tables=0,
        peak_rss_mb=[final["peak_rss_mb"]],
        cpu_s=final["cpu_s"],
        statuses=Counter(f"checked/{r['status']}" for r in final["results"]),
    )


async def _bare_probe(sim: dict[str, Any], tenants: Sequence[FleetTenant]) -> list[float]:
    """Each probe tenant's two requests (org setting, one page with the product's
    $select) with a bare aiohttp session and one token: the floor of a small check."""
    import aiohttp

    from shared.adapters.exchange_transport import ANCHOR_MAILBOX, PAGE_SIZE
    from shared.adapters.smtp_auth import MAILBOX_PROPERTIES

    bodies = [
        json.dumps({"CmdletInput": {"CmdletName": "Get-TransportConfig", "Parameters": {}}}),
        json.dumps(
            {"CmdletInput": {"CmdletName": "Get-CASMailbox", "Parameters": {"ResultSize": "Unlimited"}}}
        ),
    ]
    out = []
    async with aiohttp.ClientSession() as session:
        for tenant in tenants:
            headers = {
                "Authorization": f"Bearer {sim['probe_tokens'][tenant.id]}",  # in hand: not timed
                "Content-Type": "application/json",
                "X-AnchorMailbox": ANCHOR_MAILBOX.format(tenant=tenant.id),
                "Prefer": f"odata.maxpagesize={PAGE_SIZE}",
            }
            url = f"{sim['exchange_url']}/adminapi/beta/{tenant.id}/InvokeCommand"
            start = time.perf_counter()
            for body, query in zip(bodies, ("", "?$select=" + ",".join(MAILBOX_PROPERTIES)), strict=True):
                async with session.post(url + query, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"bare probe: HTTP {response.status}")
            out.append(time.perf_counter() - start)
    return out


def measure(azurite: Azurite, per_request_ms: float, per_kb_ms: float, *, tenants: int = 1000) -> ScaleOut:
    fleet = make_fleet(tenants)
    total = sum(t.mailboxes for t in fleet)
    say(f"scale-out: {len(fleet):,} tenants, {total:,} mailboxes; a simulator process for all of them ...")
    runs: list[VariantRun] = []
    logs = LOGS / uuid.uuid4().hex[:8]  # each process's stderr, kept for a failed run
    logs.mkdir(parents=True)
    spec = logs / "fleet.json"
    write_spec(spec, fleet, per_request_ms, per_kb_ms)
    with FleetSimProcess(spec) as sim:
        for workers in (0, *WORKERS):
            prefix, queue = "Scale" + uuid.uuid4().hex[:10], "scale" + uuid.uuid4().hex[:10]
            # Fresh tables, but the tenants' sizes as the previous cycle recorded them: the
            # timer enqueues the largest first, as it does in every cycle after the first.
            sizes = {t.id: t.mailboxes for t in fleet}
            asyncio.run(
                write_tenants(azurite.connection_string, prefix, [(t.id, t.domain) for t in fleet], sizes)
            )
            config = {
                "table_port": azurite.table_port,
                "queue_port": azurite.queue_port,
                "connection": azurite.connection_string,
                "queue": queue,
            }
            stand_ins = (process_cpu_s(azurite.pid), process_cpu_s(sim.pid))
            if workers == 0:
                env = app_env(azurite, sim.info, prefix, queue, SMTPAUTH_MAX_PARALLEL_TENANTS="1")
                run = _sequential(config, env, logs)
            else:
                env = app_env(azurite, sim.info, prefix, queue)
                run = asyncio.run(_queue_cycle(workers, config, env, len(fleet), logs))
            run.azurite_cpu_s = process_cpu_s(azurite.pid) - stand_ins[0]
            run.sim_cpu_s = process_cpu_s(sim.pid) - stand_ins[1]
            run.load = os.getloadavg()[0]
            say(
                f"  {run.name:18} {run.wall_s:7.1f} s  {len(fleet) / run.wall_s * 60:6.0f} tenants/min  "
                f"{run.tables / len(fleet):5.1f} table requests/tenant  {max(run.peak_rss_mb):4.0f} MB"
            )
            runs.append(run)
        probes = [t for t in fleet if t.mailboxes == SMALL_PROBE]
        bare = asyncio.run(_bare_probe(sim.info, probes))
    result = ScaleOut(fleet, (per_request_ms, per_kb_ms), runs, bare)
    check(result)
    return result


def check(result: ScaleOut) -> None:
    """What must hold for the figures to mean anything: every tenant checked once, by
    exactly its pages of Get-CASMailbox and each other read once (pages + 1 when the
    org setting is the only other read), none failed."""
    for run in result.runs:
        if run.errors:
            raise RuntimeError(f"{run.name}: {len(run.errors)} invocation(s) failed, e.g. {run.errors[0]}")
        others = {key.split(" ", 1)[1] for key in run.exchange} - {MAILBOX_CMDLET}
        expected = {f"{t.id} {MAILBOX_CMDLET}": t.pages for t in result.fleet}
        expected.update({f"{t.id} {c}": 1 for t in result.fleet for c in others})
        wrong = {k: (run.exchange.get(k, 0), n) for k, n in expected.items() if run.exchange.get(k, 0) != n}
        if wrong or set(run.exchange) - set(expected):
            raise RuntimeError(
                f"{run.name}: Exchange requests (seen, pages + 1) differ for {len(wrong)} tenant(s)"
            )
        if sum(run.statuses.values()) != len(result.fleet) or any("error" in s for s in run.statuses):
            raise RuntimeError(f"{run.name}: outcomes {dict(run.statuses)}")


def _per_min(result: ScaleOut, run: VariantRun) -> float:
    return len(result.fleet) / run.wall_s * 60


def _met(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def render(
    result: ScaleOut, *, measured: dict[str, str] | None = None, elapsed_s: float | None = None
) -> str:
    """The section of docs/performance.md; ``measured`` (bench.run.machine()) when it is
    run alone, so it says when and where, as the rest of the file does for itself."""
    fleet, seq = result.fleet, result.sequential
    top = result.run(max(WORKERS))
    n = len(fleet)
    total = sum(t.mailboxes for t in fleet)
    pages = sum(t.pages for t in fleet)
    speedup = seq.wall_s / top.wall_s
    under, large = sum(t.mailboxes < 500 for t in fleet), [t for t in fleet if t.mailboxes >= 10_000]
    probes = [t.id for t in fleet if t.mailboxes == SMALL_PROBE]
    one = result.run(1)
    probe_s = statistics.median(one.invocations[t] for t in probes)
    probe_top = statistics.median(top.invocations[t] for t in probes)
    bare_s = statistics.median(result.bare_probe_s)
    rows, cpu_rows = [], []
    for run in result.runs:
        rss = run.peak_rss_mb
        rss_text = (
            f"{max(rss):.0f} MB"
            if len(rss) == 1
            else f"{max(rss):.0f} MB (median {statistics.median(rss):.0f})"
        )
        rows.append(
            f"| {run.name} | {run.wall_s:,.1f} s | {_per_min(result, run):,.0f} | {seq.wall_s / run.wall_s:.1f}× "
            f"| {sum(run.exchange.values()) / n:.2f} | {run.tables / n:.1f} | {rss_text} |"
        )
        busy = (run.cpu_s + run.azurite_cpu_s + run.sim_cpu_s) / run.wall_s
        cpu_rows.append(
            f"| {run.name} | {run.cpu_s * 1000 / n:.0f} ms | {run.azurite_cpu_s * 1000 / n:.0f} ms "
            f"| {run.sim_cpu_s * 1000 / n:.0f} ms | {busy:.2f} of {os.cpu_count()} | {run.load:.1f} |"
        )
    timer_share = top.timer_tables / n
    other_reads = sorted({k.split(" ", 1)[1] for k in seq.exchange} - {MAILBOX_CMDLET})
    when = ""
    if measured is not None:
        when = (
            f"Measured {measured['date']} on {measured['cpu']}, {measured['memory']}, Python {measured['python']}, "
            f"commit `{measured['commit']}`; this section alone took {(elapsed_s or 0) / 60:.1f} minutes.\n\n"
        )
    return f"""{START}
## Scale-out: {n:,} tenants through the check queue

{when}One full cycle of a fleet of **{n:,} tenants, {total:,} mailboxes** ({under} under 500 mailboxes,
{len(large)} of {min(t.mailboxes for t in large):,}–{max(t.mailboxes for t in large):,}, the rest in between; {pages:,} pages of
1,000), under the same latency model ({result.latency[0]:.0f} ms per request + {result.latency[1]} ms per KB), all
tenants in one simulator process. The sequential loop is `shared.shell.jobs.scheduled_check` with
`SMTPAUTH_MAX_PARALLEL_TENANTS=1`; the queue path is the timer's fan-out (`enqueue_due`) and N worker
processes, each running the queue function's job (`check_queued`) one message at a time, measured in the
same run. Wall time runs from the timer's start to the last tenant's check; each variant starts from fresh
tables (a first cycle: {sum(t.enabled for t in fleet)} tenants open a finding) with each tenant's size
in its health row, as a previous cycle leaves it (the timer enqueues the largest first). Method: [bench/README.md](../bench/README.md#scale-out).

| target | figure | |
|---|---|---|
| {max(WORKERS)} workers ≥ {SPEEDUP_TARGET:.0f}× the sequential loop | {speedup:.1f}× ({seq.wall_s:,.1f} s / {top.wall_s:,.1f} s) | {_met(speedup >= SPEEDUP_TARGET)} |
| a {n:,}-tenant cycle inside one {INTERVAL_S // 60}-minute interval | {top.wall_s / 60:.1f} min at {max(WORKERS)} workers, {one.wall_s / 60:.1f} min at 1 | {_met(top.wall_s <= INTERVAL_S)} |
| Exchange requests per tenant = pages + {len(other_reads)} ({", ".join(other_reads)}, once each), every tenant, every variant | asserted for each of the {n:,} tenants in all {len(result.runs)} runs | **met** |

| variant | wall time | tenants per minute | vs sequential | Exchange requests per tenant (mean) | Table Storage requests per tenant | peak RSS per worker |
|---|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

Where the cores went (CPU seconds over the tenants: the product's processes after their imports,
the host's part played in the workers included; Azurite; the simulator. "Cores busy" is all three over the wall
time; the load average is the machine's, other work included, as each variant ended):

| variant | timer and workers CPU per tenant | Azurite CPU per tenant | simulator CPU per tenant | cores busy | load average (1 min) |
|---|---:|---:|---:|---:|---:|
{chr(10).join(cpu_rows)}

Table Storage requests per tenant count every request of the run (timer and workers) over the
{n:,} tenants; on the queue path the timer's fan-out is {timer_share:.2f} of them (a query of the
tenant rows and one of the health rows, the timer's row, the enqueue marks 100 tenants to a
transaction), the rest is each invocation's own (desired state, health, check lease, run history,
findings, outbox). The sequential loop reads the desired state once for all tenants and takes no
check lease.

**Per-tenant overhead of a small tenant** ({len(probes)} tenants of {SMALL_PROBE} mailboxes): one invocation took
{probe_s:.3f} s (median) at 1 worker, {probe_top:.3f} s at {max(WORKERS)}; its two Exchange requests alone,
from a bare aiohttp session with a token in hand, take {bare_s:.3f} s: the product adds
{probe_s - bare_s:.3f} s per tenant ({probe_s / bare_s:.2f}× the bound) at 1 worker.

{CAVEATS}
{END}"""


def summary(result: ScaleOut) -> str:
    """The figures bench/README.md keeps with the method (between the same markers)."""
    seq, n = result.sequential, len(result.fleet)
    lines = [
        START,
        (
            f"Last run ({n:,} tenants, {sum(t.mailboxes for t in result.fleet):,} mailboxes; details in "
            "[docs/performance.md](../docs/performance.md#scale-out-1000-tenants-through-the-check-queue)):"
        ),
        "",
        "| variant | wall time | tenants per minute | vs sequential |",
        "|---|---:|---:|---:|",
    ]
    for run in result.runs:
        lines.append(
            f"| {run.name} | {run.wall_s:,.1f} s | {_per_min(result, run):,.0f} | {seq.wall_s / run.wall_s:.1f}× |"
        )
    return "\n".join([*lines, END])


def write_readme(path: Path, result: ScaleOut) -> None:
    path.write_text(splice(path.read_text(), summary(result), ""))


def splice(document: str, section: str, before: str) -> str:
    """``document`` with its scale-out part replaced by ``section``; without one, the
    section goes in just before ``before`` (or at the end)."""
    if START in document and END in document:
        head, rest = document.split(START, 1)
        return head + section + rest.split(END, 1)[1]
    if before and before in document:
        head, tail = document.split(before, 1)
        return head.rstrip() + "\n\n" + section + "\n\n" + before + tail
    return document.rstrip() + "\n\n" + section + "\n"
