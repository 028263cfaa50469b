"""What the sim saw: one small record per HTTP request, for test assertions.

Secrets are not kept: Authorization is reduced to a flag (was a bearer token
present?) and X-IDENTITY-HEADER is masked. The headers worth asserting on are the
ones docs/simulator.md (Exchange admin API facts, with their public sources) lists under "Headers"
(X-AnchorMailbox, Prefer, client-request-id, ...); names are stored lower-cased.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_MASKED_HEADERS = {"x-identity-header"}


@dataclass
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    bearer: bool  # an "Authorization: Bearer ..." header was present
    tenant: str | None = None  # resolved tenant id (None if unknown / not a tenant route)
    cmdlet: str | None = None
    parameters: dict[str, Any] | None = None
    status: int = 0
    # The bearer token's tenant and client (app) id, when the service knew the token:
    # what tests check to see each call carried its own tenant's token.
    token_tenant: str | None = None
    token_client: str | None = None
    at: float = field(default_factory=time.time)
    # The recorder's generation when the request arrived: a request that outlives a
    # reset (a slow fault still sleeping when the next test starts) is not recorded
    # into the next test's list.
    generation: int | None = None

    @classmethod
    def start(cls, request: web.Request) -> RequestRecord:
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            lower = name.lower()
            if lower == "authorization":
                continue
            headers[lower] = "***" if lower in _MASKED_HEADERS else value
        auth = request.headers.get("Authorization", "")
        return cls(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=headers,
            bearer=auth[:7].lower() == "bearer " and len(auth) > 7,
        )

    @property
    def is_set(self) -> bool:
        return bool(self.cmdlet) and self.cmdlet.lower().startswith("set-")


class Recorder:
    """Thread-safe lists of requests (all, and Set-* cmdlet calls)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self._set_calls: list[RequestRecord] = []
        self._token_requests = 0
        self._generation = 0

    def stamp(self, record: RequestRecord) -> None:
        """Mark a record as arriving now, in the current generation."""
        with self._lock:
            record.generation = self._generation

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            if record.generation is not None and record.generation != self._generation:
                return  # it arrived before the last reset: not this list's request
            self._requests.append(record)
            if record.is_set:
                self._set_calls.append(record)

    def count_token_request(self) -> None:
        with self._lock:
            self._token_requests += 1

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    @property
    def set_calls(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._set_calls)

    @property
    def token_requests(self) -> int:
        with self._lock:
            return self._token_requests

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._set_calls.clear()
            self._token_requests = 0
            self._generation += 1
