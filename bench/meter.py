"""A client-side meter for the product variant: every HTTP request any azure-core
client sends (managed identity, Exchange, Table Storage), counted at the transport.

The product code runs unchanged; only ``AioHttpTransport.send`` is wrapped, in the
benchmark's own process. Each call of ``send`` is one HTTP request on the wire, so
retries count too. Bytes are response bodies as the client holds them (the simulator
and Azurite do not compress).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from azure.core.pipeline.transport import AioHttpTransport

# Sub-requests inside a Table Storage $batch changeset (multipart body).
_BATCH_PART = re.compile(rb"^(POST|PUT|PATCH|MERGE|DELETE) (\S+) HTTP/1\.1", re.MULTILINE)
_TABLE_PATH = re.compile(r"^/[^/]+/(?P<table>[A-Za-z0-9]+)(?P<query>\(.*\))?$")


@dataclass
class Meter:
    exchange_requests: int = 0
    exchange_bytes: int = 0
    exchange_cmdlets: Counter[str] = field(default_factory=Counter)
    token_requests: int = 0
    table_requests: int = 0
    table_bytes: int = 0
    # (what, table, kind, entities written) -> requests, e.g.
    # ("batch transaction: 5 PUT", "BenchFindings", "write", 5): 1
    table_ops: Counter[tuple[str, str, str, int]] = field(default_factory=Counter)
    table_statuses: Counter[int] = field(default_factory=Counter)

    def record(self, request: Any, response: Any) -> None:
        parts = urlsplit(request.url)
        path = unquote(parts.path)
        size = _body_size(response)
        if "/adminapi/" in path:
            self.exchange_requests += 1
            self.exchange_bytes += size
            self.exchange_cmdlets[request.headers.get("X-CmdletName", "?")] += 1
        elif path.endswith("/msi/token") or "/oauth2" in path:
            self.token_requests += 1
        else:  # the only other azure-core client on this path
            self.table_requests += 1
            self.table_bytes += size
            self.table_statuses[response.status_code] += 1
            self.table_ops[_table_op(request.method, path, request.data)] += 1

    def table_ops_list(self) -> list[dict[str, Any]]:
        return [
            {"op": op, "table": table, "kind": kind, "entities": entities, "count": count}
            for (op, table, kind, entities), count in sorted(self.table_ops.items())
        ]


def _body_size(response: Any) -> int:
    try:
        return len(response.body())
    except (AttributeError, ValueError, RuntimeError):  # a streamed body was never loaded
        return 0


def _table_op(method: str, path: str, data: Any) -> tuple[str, str, str, int]:
    """(what, table, read | write | create, entities written) of one table request."""
    if path.endswith("/$batch"):
        body = data if isinstance(data, bytes) else b""
        parts = _BATCH_PART.findall(body)
        tables = {_table_name(unquote(urlsplit(url.decode()).path)) for _, url in parts}
        verbs = Counter(verb.decode() for verb, _ in parts)
        what = "batch transaction: " + ", ".join(f"{n} {v}" for v, n in sorted(verbs.items()))
        return what, ",".join(sorted(tables)), "write", len(parts)
    table = _table_name(path)
    if table == "Tables":
        return "create table", "-", "create", 0
    if method == "GET":
        return "query", table, "read", 0
    return ("insert entity" if method == "POST" else f"{method} entity"), table, "write", 1


def _table_name(path: str) -> str:
    match = _TABLE_PATH.match(path)
    return match.group("table") if match else path


def install() -> Meter:
    """Wrap the transport once in this process; returns the meter that counts."""
    meter = Meter()
    original = AioHttpTransport.send

    async def send(self: AioHttpTransport, request: Any, **kwargs: Any) -> Any:
        response = await original(self, request, **kwargs)
        meter.record(request, response)
        return response

    AioHttpTransport.send = send  # type: ignore[method-assign]
    return meter
