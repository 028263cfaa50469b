"""`python -m sim`: run the simulator in the foreground for benchmarks and demos.

Prints one JSON line (url, identity_endpoint, identity_header, exchange_url,
tenant) once it serves, then serves until SIGTERM or SIGINT. The identity header
is printed on purpose: it is a throwaway secret for a loopback-only server.
See docs/simulator.md (Exchange admin API facts, with their public sources) for what it simulates.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence

from sim.server import SimServer
from sim.state import NEXT_LINK_KEYS

_TRI_STATE = {"true": True, "false": False, "null": None}


def spread(count: int, picks: int, skip: frozenset[int] = frozenset()) -> list[int]:
    """`picks` mailbox numbers spread evenly over `count`, avoiding `skip`."""
    if picks <= 0 or count <= 0:
        return []
    step = max(count // picks, 1)
    chosen = [n for n in range(step // 2, count, step) if n not in skip]
    return chosen[:picks]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sim", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 = a free port (default)")
    parser.add_argument("--tenant-id", default="8f3d5c1e-7a4b-4d2e-9c6f-1b0a2e3d4c5f")
    parser.add_argument("--domain", default="contoso.onmicrosoft.com", help="initial domain")
    parser.add_argument("--mailboxes", type=int, default=1000)
    parser.add_argument(
        "--enabled-overrides",
        type=int,
        default=0,
        help="mailboxes with SmtpClientAuthenticationDisabled=false",
    )
    parser.add_argument(
        "--disabled-overrides",
        type=int,
        default=0,
        help="mailboxes with SmtpClientAuthenticationDisabled=true",
    )
    parser.add_argument("--org-smtp-auth-disabled", choices=sorted(_TRI_STATE), default="true")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="per InvokeCommand response")
    parser.add_argument("--latency-ms-per-kb", type=float, default=0.0, help="per KB of response body")
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=None,
        help="answer the concurrent-requests 429 above this many in flight per tenant",
    )
    parser.add_argument("--identity-header", default=None, help="default: a random secret")
    parser.add_argument("--next-link-key", choices=NEXT_LINK_KEYS, default=NEXT_LINK_KEYS[0])
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    server = SimServer(args.identity_header, port=args.port, next_link_key=args.next_link_key)
    tenant = server.add_tenant(
        args.tenant_id, args.domain, org_smtp_auth_disabled=_TRI_STATE[args.org_smtp_auth_disabled]
    )
    enabled = spread(args.mailboxes, args.enabled_overrides)
    disabled = spread(args.mailboxes, args.disabled_overrides, frozenset(enabled))
    overrides: dict[int, bool | None] = {n: False for n in enabled}
    overrides.update({n: True for n in disabled})
    tenant.seed(args.mailboxes, overrides=overrides)
    server.faults.latency(args.latency_ms, args.latency_ms_per_kb)
    server.faults.limit_concurrency(args.max_concurrent)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    try:
        print(
            json.dumps(
                {
                    "url": server.url,
                    "identity_endpoint": server.identity_endpoint,
                    "identity_header": server.identity_header,
                    "exchange_url": server.exchange_url,
                    "tenant_id": tenant.tenant_id,
                    "domain": tenant.initial_domain,
                    "mailboxes": len(tenant),
                    "overrides": {"false": len(enabled), "true": len(disabled)},
                }
            ),
            flush=True,
        )
        # Wake up regularly so the signal handler's flag is seen promptly.
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
