"""Injected failures and a latency model, switchable from the test thread.

The failure kinds are the ones docs/simulator.md (Exchange admin API facts, with their public sources)
("Throttling") says production clients must survive: 429 with Retry-After,
429 without it, 503/504, and the "maximum number of concurrent requests per
tenant" body. Two more kinds answer success with something extra, as the audit
found real answers do ("Corrections found in the 2026-12 audit", "2xx extras"):
`@adminapi.errors` in a 200 (non-terminating cmdlet errors) and `@adminapi.warnings`
with no `value` (CIPP-API `New-ExoRequest.ps1` handles that case). Each rule fires for the next N matching requests and is then gone;
a rule may match only paged requests (those carrying $skiptoken, so "429 on the
3rd page" is testable) or only one cmdlet. The latency model delays every
response by a fixed part plus a part per KB of body, to make benchmarks honest.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

CONCURRENT_LIMIT_MESSAGE = (
    "You have reached the maximum number of concurrent requests per tenant. "
    "Please wait for other requests to complete and try again."
)


@dataclass
class FaultRule:
    """One armed fault; `remaining` None means until cleared."""

    # throttle | throttle_without_retry_after | unavailable | concurrent_limit | fail | slow
    # | refused_token | partial_errors | warnings_only (these two answer 200: see FaultHit.extra)
    kind: str
    remaining: int | None
    status: int = 0
    retry_after: float | None = None
    delay_s: float = 0.0
    message: str | None = None  # for "fail": the useful text of the error
    exception_type: str | None = None  # for "fail": a cmdlet error of this .NET type
    only_paged: bool = False
    cmdlet: str | None = None
    service: str = "exchange"
    skip: int = 0  # matching requests still to let through before firing
    tenant: str | None = None  # only this tenant's requests (its GUID, lower case)
    after_apply: bool = False  # for "slow": wait once the cmdlet has run (its change made), not before

    def matches(self, service: str, cmdlet: str | None, paged: bool, tenant: str | None = None) -> bool:
        if self.service != service or (self.only_paged and not paged):
            return False
        if self.tenant is not None and self.tenant != (tenant or "").lower():
            return False
        return self.cmdlet is None or (cmdlet or "").lower() == self.cmdlet.lower()


@dataclass(frozen=True)
class FaultHit:
    """What a handler must answer instead of the real result."""

    kind: str
    status: int
    retry_after: float | None
    message: str
    code: str
    exception_type: str | None = None

    @property
    def extra(self) -> bool:
        """A success with something added (``@adminapi.errors`` / warnings) or a broken
        200 (BROKEN_KINDS): the handler builds its answer, then alters it."""
        return self.kind in EXTRA_KINDS or self.kind in BROKEN_KINDS

    @property
    def headers(self) -> dict[str, str]:
        """The Retry-After header the answer carries, if any."""
        return {} if self.retry_after is None else {"Retry-After": format_retry_after(self.retry_after)}


EXTRA_KINDS = frozenset({"partial_errors", "warnings_only"})
# Answered 200 but not whole: what a dropped connection, a proxy or a paging bug gives.
BROKEN_KINDS = frozenset({"truncated", "not_json", "reset", "repeat_next_link"})


def format_retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


class Faults:
    """Fault rules and latency; every method is safe to call from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._fired: Counter[str] = Counter()
        self.per_request_ms = 0.0
        self.per_kb_ms = 0.0
        self.max_concurrent_per_tenant: int | None = None

    # -- arming ------------------------------------------------------------

    def _arm(
        self,
        kind: str,
        times: int | None,
        *,
        only_paged: bool,
        cmdlet: str | None,
        service: str,
        after: int,
        status: int = 0,
        retry_after: float | None = None,
        delay_s: float = 0.0,
        message: str | None = None,
        exception_type: str | None = None,
        tenant: str | None = None,
        after_apply: bool = False,
    ) -> FaultRule:
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 (or None for slow)")
        if after < 0:
            raise ValueError("after must be >= 0")
        rule = FaultRule(
            kind=kind,
            remaining=times,
            status=status,
            retry_after=retry_after,
            delay_s=delay_s,
            message=message,
            exception_type=exception_type,
            only_paged=only_paged,
            cmdlet=cmdlet,
            service=service,
            skip=after,
            tenant=tenant.lower() if tenant else None,
            after_apply=after_apply,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    # Every kind takes the same matching options:
    #   only_paged  only requests with a $skiptoken (pages 2, 3, ...)
    #   cmdlet      only this cmdlet (case-insensitive)
    #   after       let this many matching requests through first
    #               (only_paged=True, after=1 -> the 3rd page fails)
    #   service     "exchange"; later Graph modules use their own name
    #   tenant      (throttle, slow, refuse_token) only this tenant's InvokeCommand requests and
    #               $batch items: one faulty tenant among many healthy ones

    def throttle(
        self,
        times: int | None = 1,
        retry_after: float = 1,
        *,
        only_paged: bool = False,
        cmdlet: str | None = None,
        after: int = 0,
        service: str = "exchange",
        tenant: str | None = None,
    ) -> FaultRule:
        """429 with a Retry-After header (seconds) and the error shape; times=None: until cleared."""
        return self._arm(
            "throttle", times, status=429, retry_after=retry_after,
            only_paged=only_paged, cmdlet=cmdlet, service=service, after=after, tenant=tenant,
        )  # fmt: skip

    def throttle_without_retry_after(
        self,
        times: int = 1,
        *,
        only_paged: bool = False,
        cmdlet: str | None = None,
        after: int = 0,
        service: str = "exchange",
    ) -> FaultRule:
        """429 with the error shape but no Retry-After (azure-core won't retry a POST on it)."""
        return self._arm(
            "throttle_without_retry_after", times, status=429,
            only_paged=only_paged, cmdlet=cmdlet, service=service, after=after,
        )  # fmt: skip

    def unavailable(
        self,
        times: int = 1,
        status: int = 503,
        retry_after: float | None = None,
        *,
        only_paged: bool = False,
        cmdlet: str | None = None,
        after: int = 0,
        service: str = "exchange",
    ) -> FaultRule:
        """503 or 504 with the error shape; Retry-After only if given."""
        if status not in (503, 504):
            raise ValueError("status must be 503 or 504")
        return self._arm(
            "unavailable", times, status=status, retry_after=retry_after,
            only_paged=only_paged, cmdlet=cmdlet, service=service, after=after,
        )  # fmt: skip

    def concurrent_limit(
        self,
        times: int = 1,
        status: int = 429,
        *,
        only_paged: bool = False,
        cmdlet: str | None = None,
        after: int = 0,
        service: str = "exchange",
    ) -> FaultRule:
        """The "maximum number of concurrent requests per tenant" body, no Retry-After."""
        return self._arm(
            "concurrent_limit", times, status=status,
            only_paged=only_paged, cmdlet=cmdlet, service=service, after=after,
        )  # fmt: skip

    def fail(
        self,
        status: int,
        message: str,
        times: int = 1,
        *,
        retry_after: float | None = None,
        exception_type: str | None = None,
        only_paged: bool = False,
        cmdlet: str | None = None,
        after: int = 0,
        service: str = "exchange",
    ) -> FaultRule:
        """Any other error status with `message` as the useful text (e.g. 400 on a stale page).

        With `exception_type` (e.g. "Microsoft.Exchange.Configuration.Tasks.
        ManagementObjectNotFoundException") it is a cmdlet's error: `details[0].message`
        reads `Ex<hex>|<type>|<message>`, as real cmdlet errors do."""
        if not 400 <= status <= 599:
            raise ValueError("status must be 4xx or 5xx")
        return self._arm(
            "fail", times, status=status, retry_after=retry_after, message=message,
            exception_type=exception_type,
            only_paged=only_paged, cmdlet=cmdlet, service=service, after=after,
        )  # fmt: skip

    def refuse_token(
        self,
        times: int | None = 1,
        message: str = "The bearer token is not valid: it was revoked or has expired.",
        **match: Any,
    ) -> FaultRule:
        """401 with ``WWW-Authenticate: Bearer ..., error="invalid_token"``, whatever token
        the request carries, fresh or not: a token Exchange no longer takes (consent
        revoked, a clock off, Conditional Access). times=None: until cleared. ``match``:
        the matching options above (only_paged, cmdlet, after, service, tenant)."""
        options: dict[str, Any] = {"only_paged": False, "cmdlet": None, "service": "exchange", "after": 0}
        return self._arm("refused_token", times, status=401, message=message, **{**options, **match})

    def partial_errors(
        self,
        message: str,
        times: int = 1,
        *,
        exception_type: str = "Microsoft.Exchange.Management.Tasks.RecipientTaskException",
        only_paged: bool = False,
        cmdlet: str | None = None,
        after: int = 0,
        service: str = "exchange",
    ) -> FaultRule:
        """Answer 200 as usual (the cmdlet runs) and add ``"@adminapi.errors":
        ["Ex<hex>|<type>|<message>"]``: a non-terminating error, the output incomplete.
        The items' shape is not documented: strings in the cmdlet-error form are an
        assumption (the product reads objects with a message too)."""
        return self._arm(
            "partial_errors", times, status=200, message=message, exception_type=exception_type,
            only_paged=only_paged, cmdlet=cmdlet, service=service, after=after,
        )  # fmt: skip

    def warnings_only(
        self,
        message: str,
        times: int = 1,
        *,
        only_paged: bool = False,
        cmdlet: str | None = None,
        after: int = 0,
        service: str = "exchange",
    ) -> FaultRule:
        """Answer 200 (the cmdlet runs) with ``"@adminapi.warnings": [message]`` and no
        ``value`` at all, the case CIPP-API's ``New-ExoRequest.ps1`` handles."""
        return self._arm(
            "warnings_only", times, status=200, message=message,
            only_paged=only_paged, cmdlet=cmdlet, service=service, after=after,
        )  # fmt: skip

    def broken_answer(
        self,
        how: str,
        times: int | None = 1,
        *,
        only_paged: bool = False,
        cmdlet: str | None = None,
        after: int = 0,
        service: str = "exchange",
        tenant: str | None = None,
    ) -> FaultRule:
        """A 200 that is not a whole answer, ``how`` one of BROKEN_KINDS: ``truncated``
        (the JSON cut in half, Content-Length matching the cut), ``not_json`` (an HTML
        error page, as a proxy or load balancer answers), ``reset`` (the connection
        dropped after the headers and half the body), ``repeat_next_link`` (the page's
        ``@odata.nextLink`` is the URL just fetched: a paging loop)."""
        if how not in BROKEN_KINDS:
            raise ValueError(f"how must be one of {sorted(BROKEN_KINDS)}")
        return self._arm(
            how, times, status=200,
            only_paged=only_paged, cmdlet=cmdlet, service=service, after=after, tenant=tenant,
        )  # fmt: skip

    def slow(
        self,
        delay_s: float,
        times: int | None = None,
        *,
        only_paged: bool = False,
        cmdlet: str | None = None,
        after: int = 0,
        service: str = "exchange",
        tenant: str | None = None,
        after_apply: bool = False,
    ) -> FaultRule:
        """Wait `delay_s` before answering (for client timeouts); times=None: until cleared.

        By default the wait comes before the handler acts. With ``after_apply`` (Exchange
        only) the cmdlet runs first, its change made, and the answer waits: a caller
        killed meanwhile made a write it never heard of. Such a rule counts in ``fired``
        (and its ``after``/``times``) only once a cmdlet has run without error."""
        return self._arm(
            "slow", times, delay_s=delay_s,
            only_paged=only_paged, cmdlet=cmdlet, service=service, after=after, tenant=tenant,
            after_apply=after_apply,
        )  # fmt: skip

    def latency(self, per_request_ms: float = 0.0, per_kb_ms: float = 0.0) -> None:
        """Delay every InvokeCommand response by per_request_ms + per_kb_ms * KB of body."""
        with self._lock:
            self.per_request_ms = per_request_ms
            self.per_kb_ms = per_kb_ms

    def limit_concurrency(self, max_per_tenant: int | None) -> None:
        """Answer the concurrent-requests 429 while more than N requests per tenant are in flight."""
        with self._lock:
            self.max_concurrent_per_tenant = max_per_tenant

    def clear(self) -> None:
        """Disarm every rule, the latency model and the concurrency cap; zero the counters."""
        with self._lock:
            self._rules.clear()
            self._fired.clear()
            self.per_request_ms = self.per_kb_ms = 0.0
            self.max_concurrent_per_tenant = None

    # -- inspecting ----------------------------------------------------------

    @property
    def pending(self) -> list[FaultRule]:
        """Rules still armed."""
        with self._lock:
            return list(self._rules)

    @property
    def fired(self) -> dict[str, int]:
        """How many times each kind fired since the last clear()."""
        with self._lock:
            return dict(self._fired)

    # -- used by handlers ------------------------------------------------------

    def take(
        self,
        *,
        service: str,
        cmdlet: str | None,
        paged: bool,
        tenant: str | None = None,
        after_apply: bool = False,
    ) -> tuple[float, FaultHit | None]:
        """Consume matching rules: (delay before answering, failure to answer or None).
        ``after_apply``: only the slow rules that wait once the cmdlet has run."""
        delay = 0.0
        hit: FaultHit | None = None
        with self._lock:
            for rule in list(self._rules):
                if rule.after_apply != after_apply or not rule.matches(service, cmdlet, paged, tenant):
                    continue
                if rule.skip > 0:
                    rule.skip -= 1
                    continue
                if rule.kind == "slow":
                    delay += rule.delay_s
                elif hit is None:
                    hit = _hit_for(rule)
                else:
                    continue  # one failure per request; later rules wait their turn
                self._fired[rule.kind] += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
        return delay, hit

    async def answer(
        self, *, service: str, cmdlet: str | None = None, paged: bool = False, tenant: str | None = None
    ) -> FaultHit | None:
        """What every handler does with the armed faults: wait out any delay, then
        return the failure to answer with (or None to answer normally)."""
        delay, hit = self.take(service=service, cmdlet=cmdlet, paged=paged, tenant=tenant)
        if delay > 0:
            await asyncio.sleep(delay)
        return hit

    async def hold(
        self, *, service: str, cmdlet: str | None, paged: bool = False, tenant: str | None = None
    ) -> None:
        """What a handler does once its cmdlet has run: wait out the matching
        ``slow(after_apply=True)`` rules before answering."""
        delay, _ = self.take(service=service, cmdlet=cmdlet, paged=paged, tenant=tenant, after_apply=True)
        if delay > 0:
            await asyncio.sleep(delay)

    def latency_s(self, body_bytes: int) -> float:
        with self._lock:
            return (self.per_request_ms + self.per_kb_ms * body_bytes / 1024) / 1000


_STATUS_CODES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
                 429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway",
                 503: "ServiceUnavailable", 504: "GatewayTimeout"}  # fmt: skip


def _hit_for(rule: FaultRule) -> FaultHit:
    if rule.kind == "refused_token":
        return FaultHit(rule.kind, 401, None, rule.message or "", "Unauthorized")
    if rule.kind == "fail":
        code = _STATUS_CODES.get(rule.status, "Error")
        return FaultHit(
            rule.kind, rule.status, rule.retry_after, rule.message or code, code, rule.exception_type
        )
    if rule.kind in EXTRA_KINDS or rule.kind in BROKEN_KINDS:
        return FaultHit(rule.kind, 200, None, rule.message or "", "OK", rule.exception_type)
    if rule.kind == "concurrent_limit":
        return FaultHit(rule.kind, rule.status, None, CONCURRENT_LIMIT_MESSAGE, "TooManyRequests")
    if rule.kind == "unavailable":
        if rule.status == 504:
            return FaultHit(
                rule.kind, 504, rule.retry_after, "The operation has timed out.", "GatewayTimeout"
            )
        return FaultHit(
            rule.kind,
            503,
            rule.retry_after,
            "The service is temporarily unavailable. Please try again later.",
            "ServiceUnavailable",
        )
    if rule.retry_after is not None:
        message = f"Too many requests. Please retry after {format_retry_after(rule.retry_after)} seconds."
    else:
        message = "Too many requests. The request was throttled; please try again later."
    return FaultHit(rule.kind, 429, rule.retry_after, message, "TooManyRequests")
