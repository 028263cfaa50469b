"""An MSP's fleet for the scale-out benchmark: 1,000 tenants with a realistic mix of
sizes, about 1 million mailboxes in all, served by one simulator process.

    python -m bench.fleet <fleet JSON file>

serves the fleet (latency model included) until SIGTERM and prints one JSON line
once it does, like ``python -m sim``.
"""

from __future__ import annotations

import json
import math
import random
import signal
import sys
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.simproc import SimProcess, TenantShape
from sim.__main__ import spread
from sim.server import SimServer

PAGE = 1000  # mailboxes per page (the product's odata.maxpagesize)
SMALL_PROBE = 200  # mailboxes of the tenants whose per-tenant overhead is measured
# The few large customers, 10,000 to 100,000 mailboxes (about 65% of all mailboxes).
LARGE = (100_000, 100_000, 100_000, 80_000, 60_000, 50_000, 40_000, 30_000, 25_000, 20_000, 15_000,
         12_000, 10_000, 10_000)  # fmt: skip
MEDIUM = (100, 500, 8_000)  # tenants, from, to (log-uniform)
PROBES = 20  # tenants of exactly SMALL_PROBE mailboxes
SMALL = (10, 500)  # every other tenant (log-uniform)
# The deployment's identity and its multi-tenant app (fixed: the fleet is deterministic).
UAMI_CLIENT_ID = "7d1e5c3a-9b2f-4e6d-8a0c-1f3b5d7e9a2c"
APP_ID = "2b8f6d4e-0a1c-4e3b-9d5f-7c9e1a3b5d8f"
DRIFT_EVERY = 20  # one tenant in 20 has a mailbox with SMTP AUTH on and no exception


@dataclass(frozen=True)
class FleetTenant:
    id: str
    domain: str
    mailboxes: int
    enabled: int  # mailboxes with SMTP AUTH on (no exception: drift)
    disabled: int  # mailboxes with an explicit "off"

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.mailboxes / PAGE))


def _log_uniform(rng: random.Random, low: int, high: int) -> int:
    return round(math.exp(rng.uniform(math.log(low), math.log(high))))


def make_fleet(count: int = 1000, seed: int = 11) -> list[FleetTenant]:
    """``count`` tenants: the large ones, MEDIUM ones, PROBES of SMALL_PROBE mailboxes,
    the rest small; shuffled, so the large ones are not enqueued first. Deterministic."""
    rng = random.Random(seed)
    scale = count / 1000  # a smaller fleet (--quick) keeps the mix
    large = list(LARGE[: max(1, round(len(LARGE) * scale))])
    medium = [_log_uniform(rng, MEDIUM[1], MEDIUM[2]) for _ in range(round(MEDIUM[0] * scale))]
    probes = [SMALL_PROBE] * max(1, round(PROBES * scale))
    rest = count - len(large) - len(medium) - len(probes)
    sizes = large + medium + probes + [_log_uniform(rng, *SMALL) for _ in range(rest)]
    rng.shuffle(sizes)
    tenants = []
    for n, size in enumerate(sizes):
        tenant = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        enabled = 1 if n % DRIFT_EVERY == 0 else 0
        tenants.append(FleetTenant(tenant, f"msp{n:04d}.onmicrosoft.com", size, enabled, size // 100 + 1))
    return tenants


def write_spec(path: Path, tenants: list[FleetTenant], per_request_ms: float, per_kb_ms: float) -> None:
    spec = {"latency": [per_request_ms, per_kb_ms], "tenants": [asdict(t) for t in tenants]}
    path.write_text(json.dumps(spec))


class FleetSimProcess(SimProcess):
    """The simulator process of bench/simproc.py, serving a whole fleet."""

    def __init__(self, spec: Path) -> None:
        super().__init__(TenantShape(0, 0, 0), tenant_id="", domain="", latency_ms=0, latency_ms_per_kb=0)
        self.args = [sys.executable, "-m", "bench.fleet", str(spec)]


def serve(spec: dict[str, Any]) -> None:
    """The fleet, reached as a deployment reaches customer tenants: the managed identity
    lives in the first tenant (the MSP's home), every other tenant consented to the
    multi-tenant app that trusts it (docs/tenants.md), Entra played over HTTPS."""
    server = SimServer()
    for t in spec["tenants"]:
        tenant = server.add_tenant(t["id"], t["domain"])
        enabled = spread(t["mailboxes"], t["enabled"])
        disabled = spread(t["mailboxes"], t["disabled"], frozenset(enabled))
        overrides: dict[int, bool | None] = {n: False for n in enabled}
        overrides.update({n: True for n in disabled})
        tenant.seed(t["mailboxes"], overrides=overrides)
    server.faults.latency(*spec["latency"])
    home = spec["tenants"][0]["id"]
    server.identity_tenant = home
    server.register_app(APP_ID, home_tenant=home, trusts_client_id=UAMI_CLIENT_ID)
    for t in spec["tenants"][1:]:
        server.consent(t["id"], APP_ID)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    try:
        info = {
            "url": server.url,
            "identity_endpoint": server.identity_endpoint,
            "identity_header": server.identity_header,  # a throwaway secret of a loopback server
            "exchange_url": server.exchange_url,
            "tenants": len(spec["tenants"]),
            "home_tenant": home,
            "app_id": APP_ID,
            "client_id": UAMI_CLIENT_ID,
            "entra_url": server.entra_url,
            "ca_bundle": server.ca_bundle,
            # Throwaway tokens of a loopback simulator, for the bare probe of bench/scaleout.py.
            "probe_tokens": {
                t["id"]: server.issue_token(tenant=t["id"])
                for t in spec["tenants"]
                if t["mailboxes"] == SMALL_PROBE
            },
            "mailboxes": sum(t["mailboxes"] for t in spec["tenants"]),
        }
        print(json.dumps(info), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()


if __name__ == "__main__":
    serve(json.loads(Path(sys.argv[1]).read_text()))
    sys.exit(0)
