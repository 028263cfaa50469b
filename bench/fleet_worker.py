"""One process of the scale-out benchmark; prints JSON lines on stdout.

    python -m bench.fleet_worker timer|queue|sequential '<config JSON>'

timer       the timer function's job (``shared.shell.jobs.enqueue_due``): prints
            ``{"ready": true}`` once imported, waits for a line on stdin, fans out,
            prints its figures and exits.
queue       one Functions instance running one invocation at a time: it plays the
            host's part (once a line arrives on stdin: take a message off the real
            Azurite queue, Base64-decode it, delete it when the call returns; poll an
            empty queue less often, up to once a second) and calls the queue function's own job
            (``shared.shell.jobs.check_queued``, what function_app's trigger runs).
            Prints ready, one line per message, and its totals on SIGTERM.
sequential  the in-process loop (``shared.shell.jobs.scheduled_check``) with
            SMTPAUTH_MAX_PARALLEL_TENANTS=1: every tenant, one after the other.

Every HTTP request an azure-core client sends in the process is counted at the
transport, by where it goes: Exchange (per tenant), the identity endpoint, Table
Storage, the queue (the host's part only: the product's worker never touches it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import resource
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline.transport import AioHttpTransport

POLL_MIN_S, POLL_MAX_S = 0.1, 1.0
_TENANT = re.compile(r"/adminapi/beta/([^/]+)/InvokeCommand")


@dataclass
class Counts:
    exchange: Counter[str] = field(default_factory=Counter)  # "tenant cmdlet" -> requests
    tables: int = 0
    tokens: int = 0
    queue: int = 0


def install(config: dict[str, Any]) -> Counts:
    """Wrap the transport's send in this process: one call is one request on the wire."""
    counts = Counts()
    table_port, queue_port = config["table_port"], config["queue_port"]
    original = AioHttpTransport.send

    async def send(self: AioHttpTransport, request: Any, **kwargs: Any) -> Any:
        parts = urlsplit(request.url)
        if (match := _TENANT.search(parts.path)) is not None:
            counts.exchange[f"{match.group(1).lower()} {request.headers.get('X-CmdletName', '?')}"] += 1
        elif parts.port == table_port:
            counts.tables += 1
        elif parts.port == queue_port:
            counts.queue += 1
        else:
            counts.tokens += 1
        return await original(self, request, **kwargs)

    AioHttpTransport.send = send  # type: ignore[method-assign]
    return counts


def emit(line: dict[str, Any]) -> None:
    print(json.dumps(line), flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def totals(counts: Counts, cpu_at_start: float) -> dict[str, Any]:
    """``cpu_at_start``: the CPU spent before the work (imports), left out."""
    return {
        "done": True,
        "peak_rss_mb": peak_rss_mb(),
        "cpu_s": cpu_s() - cpu_at_start,
        "exchange": dict(counts.exchange),
        "tables": counts.tables,
        "tokens": counts.tokens,
        "queue": counts.queue,
    }


async def timer(counts: Counts) -> None:
    from shared.shell.jobs import enqueue_due
    from shared.shell.settings import Settings

    emit({"ready": True})
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    start, cpu = time.perf_counter(), cpu_s()
    fan = await enqueue_due(Settings.from_env())
    emit({**totals(counts, cpu), "wall_s": time.perf_counter() - start, "enqueued": len(fan.enqueued)})


async def queue_worker(counts: Counts, config: dict[str, Any]) -> None:
    from azure.identity.aio import ManagedIdentityCredential  # noqa: F401  (imported before the work)
    from azure.storage.queue.aio import QueueClient

    from shared.shell.jobs import check_queued
    from shared.shell.settings import Settings
    from shared.shell.warm import close_warm

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    # The host's own client: the bytes as they are on the queue.
    async with QueueClient.from_connection_string(config["connection"], config["queue"]) as queue:
        emit({"ready": True})
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # the cycle starts
        cpu = cpu_s()
        idle_s = POLL_MIN_S
        while not stop.is_set():
            batch = [
                m
                async for m in queue.receive_messages(
                    messages_per_page=1, max_messages=1, visibility_timeout=900
                )
            ]
            if not batch:
                # An empty queue is polled less and less often, as the host does (up to its
                # maxPollingInterval): polling flat out would spend the cores the checks need.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), idle_s)
                idle_s = min(idle_s * 2, POLL_MAX_S)
                continue
            idle_s = POLL_MIN_S
            message = batch[0]
            text = base64.b64decode(message.content, validate=True).decode()
            tables = counts.tables
            start = time.perf_counter()
            try:
                work = await check_queued(Settings.from_env(), text, message.dequeue_count or 1)
            except Exception as exc:  # noqa: BLE001 (the host catches all: a failed run here)
                emit({"error": f"{type(exc).__name__}: {exc}", "body": text})
                await queue.update_message(message, visibility_timeout=0)
                continue
            elapsed = time.perf_counter() - start
            await queue.delete_message(message)
            result = work.result
            emit(
                {
                    "tenant": work.tenant,
                    "outcome": str(work.outcome),
                    "status": str(result.status) if result else None,
                    "scanned": result.mailboxes_scanned if result else None,
                    "s": elapsed,
                    "tables": counts.tables - tables,
                }
            )
    await close_warm()
    emit(totals(counts, cpu))


async def sequential(counts: Counts) -> None:
    from azure.identity.aio import ManagedIdentityCredential  # noqa: F401

    from shared.shell.jobs import scheduled_check
    from shared.shell.settings import Settings
    from shared.shell.warm import close_warm

    settings = Settings.from_env()
    start, cpu = time.perf_counter(), cpu_s()
    results = await scheduled_check(settings)
    wall = time.perf_counter() - start
    await close_warm()
    checked = [
        {"tenant": r.tenant_id, "status": str(r.status), "scanned": r.mailboxes_scanned} for r in results
    ]
    emit({**totals(counts, cpu), "wall_s": wall, "results": checked})


def main(argv: list[str]) -> int:
    role, config = argv[0], json.loads(argv[1])
    counts = install(config)
    if role == "timer":
        asyncio.run(timer(counts))
    elif role == "queue":
        asyncio.run(queue_worker(counts, config))
    elif role == "sequential":
        asyncio.run(sequential(counts))
    else:
        raise SystemExit(f"unknown role {role!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
