"""One scan variant in this (fresh) process; prints one JSON line of figures.

    python -m bench.scan_variants product|bare|full '<config JSON>'

The config is the simulator's JSON line plus ``protocol``: the product's own scope,
anchor, page size and $select, passed in by bench/run.py so (b) and (c) send what (a)
sends without importing the product (which would load azure-core into their RSS).
(a) reads its settings from the environment, as in Azure.

product  (a) the real product path: Settings from the environment, the managed
         identity credential against the simulator's identity endpoint,
         ``shared.shell.jobs.scheduled_check`` (open_runtime + run_cycle) with Azurite.
bare     (b) the lower bound: one token, then POST the same body with the same
         ``$select`` and ``Prefer`` page size, following the nextLink; each page is
         ``json.loads``-ed only to find the nextLink.
full     (c) the common approach: the same loop without ``$select`` (full CAS mailbox
         objects), reading one property per object to find the overrides.

Wall time is the check itself, after imports (cold start is measured separately).
Peak RSS is this process's ``ru_maxrss``; nothing else ran in it.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

# The same body the product sends for the mailbox list.
BODY = json.dumps(
    {"CmdletInput": {"CmdletName": "Get-CASMailbox", "Parameters": {"ResultSize": "Unlimited"}}}
).encode()


def rss_mb() -> float:
    """Peak RSS of this process so far (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def run_product(sim: dict[str, Any]) -> dict[str, Any]:
    from bench import meter as meter_module

    meter = meter_module.install()
    # Imported before the clock starts (the meter has loaded aiohttp already): import
    # cost is the cold-start section's subject.
    from azure.identity.aio import ManagedIdentityCredential  # noqa: F401  (lazy in the product)

    from shared.core.model import Status
    from shared.shell.jobs import scheduled_check
    from shared.shell.settings import Settings

    settings = Settings.from_env()
    rss_imports = current_rss_mb()
    start = time.perf_counter()
    results = asyncio.run(scheduled_check(settings))
    wall = time.perf_counter() - start
    if len(results) != 1 or results[0].status is Status.ERROR:
        raise SystemExit(f"product check failed: {results}")
    result = results[0]
    if result.mailboxes_scanned != sim["mailboxes"]:
        raise SystemExit(f"scanned {result.mailboxes_scanned}, sim has {sim['mailboxes']}")
    # Table names without the run's random prefix, so runs compare.
    ops = meter.table_ops_list()
    for op in ops:
        op["table"] = op["table"].replace(settings.table_prefix, "")
    lazy = ("msgraph", "opentelemetry", "kiota_abstractions")
    heavy = sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in lazy})
    return {
        "wall_s": wall,
        "requests": meter.exchange_requests,
        "bytes": meter.exchange_bytes,
        "cmdlets": dict(meter.exchange_cmdlets),
        "token_requests": meter.token_requests,
        "table_requests": meter.table_requests,
        "table_bytes": meter.table_bytes,
        "table_ops": ops,
        "table_statuses": {str(k): v for k, v in sorted(meter.table_statuses.items())},
        "findings": len(result.findings),
        "changes": None
        if result.diff is None
        else {
            "opened": len(result.diff.opened),
            "changed": len(result.diff.changed),
            "resolved": len(result.diff.resolved),
            "unchanged": len(result.diff.unchanged),
        },
        "heavy_modules_loaded": heavy,
        "rss_after_imports_mb": rss_imports,
    }


async def _bare_loop(sim: dict[str, Any], select: bool) -> dict[str, Any]:
    import aiohttp

    proto = sim["protocol"]
    tenant = sim["tenant_id"]
    requests = received = overrides = 0
    async with aiohttp.ClientSession() as session:
        async with session.get(
            sim["identity_endpoint"],
            params={"resource": proto["resource"], "api-version": "2019-08-01"},
            headers={"X-IDENTITY-HEADER": sim["identity_header"]},
        ) as response:
            response.raise_for_status()
            token = (await response.json())["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-AnchorMailbox": proto["anchor"],
            "Prefer": f"odata.maxpagesize={proto['page_size']}",
        }
        url: str | None = f"{sim['exchange_url']}/adminapi/beta/{tenant}/InvokeCommand"
        if select:
            url += "?$select=" + ",".join(proto["select"])
        while url:
            async with session.post(url, data=BODY, headers=headers) as response:
                raw = await response.read()
            requests += 1
            received += len(raw)
            if response.status != 200:
                raise SystemExit(f"HTTP {response.status}: {raw[:300]!r}")
            page = json.loads(raw)
            if not select:
                # The least a full-object tool does: look at the one property it needs.
                overrides += sum(
                    1 for item in page["value"] if item.get("SmtpClientAuthenticationDisabled") is not None
                )
            url = page.get("@odata.nextLink") or page.get("odata.nextLink")
    return {"requests": requests, "bytes": received, "overrides_seen": overrides}


def run_bare(sim: dict[str, Any], select: bool) -> dict[str, Any]:
    import aiohttp  # noqa: F401  (imported before the clock, as for the product)

    rss_imports = current_rss_mb()
    start = time.perf_counter()
    figures = asyncio.run(_bare_loop(sim, select))
    figures["wall_s"] = time.perf_counter() - start
    figures["token_requests"] = 1
    figures["rss_after_imports_mb"] = rss_imports
    return figures


def main(argv: list[str]) -> int:
    variant, sim = argv[0], json.loads(argv[1])
    if variant == "product":
        figures = run_product(sim)
    elif variant in ("bare", "full"):
        figures = run_bare(sim, select=variant == "bare")
    else:
        raise SystemExit(f"unknown variant {variant!r}")
    figures["variant"] = variant
    figures["peak_rss_mb"] = rss_mb()
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
