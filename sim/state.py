"""Everything the route modules share: tenants, tokens, faults, records, options.

One SimState lives on the aiohttp app (STATE_KEY); each service module (managed
identity, Exchange admin API, later Graph pieces) reads it from there, so new
modules need nothing but their own route table. What each service must do is
set out in docs/simulator.md (Exchange admin API facts, with their public sources).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from sim.directory import Directory
from sim.faults import Faults
from sim.graph_objects import GraphObjects
from sim.rate_limit import GRAPH_REPORTS_LIMIT, RateLimit, SlidingWindow
from sim.records import Recorder, RequestRecord
from sim.signin_log import SignInLog
from sim.sinks import Sinks
from sim.tenant import SimTenant
from sim.tokens import TokenStore

# Client id reported for the system-assigned identity (no client_id asked for).
SYSTEM_ASSIGNED_CLIENT_ID = "5c2e8e4b-6f1a-4c57-9d1e-0a3b7f2d9c61"
NEXT_LINK_KEYS = ("@odata.nextLink", "odata.nextLink")


@dataclass
class SimState:
    identity_header: str
    tokens: TokenStore = field(default_factory=TokenStore)
    faults: Faults = field(default_factory=Faults)
    recorder: Recorder = field(default_factory=Recorder)
    sinks: Sinks = field(default_factory=Sinks)  # mails and Teams posts received
    graph_objects: GraphObjects = field(default_factory=GraphObjects)  # the permission step's
    allowed_client_ids: frozenset[str] | None = None  # None = any client id
    default_client_id: str = SYSTEM_ASSIGNED_CLIENT_ID
    token_lifetime_s: float = 3600.0
    next_link_key: str = "@odata.nextLink"
    # Origin to put in nextLinks instead of the request's: a hostile or broken
    # service, to show the client never follows a link off its endpoint.
    next_link_origin: str | None = None
    # The tenant the managed identity lives in: the MI endpoint issues its tokens
    # there (the protocol names no tenant). None = the first tenant registered.
    identity_tenant: str | None = None
    # Every token the managed identity endpoint mints is for this audience, whatever
    # was asked (a broken token proxy or cache): what the service does with a token
    # for the wrong audience. None = the resource asked for.
    identity_audience: str | None = None
    # Graph sign-in logs, per tenant: Graph answers for the token's tenant.
    # graph_premium=False is a tenant without Entra ID P1 (403 on sign-in logs).
    sign_ins: SignInLog = field(default_factory=SignInLog)
    graph_premium: bool = True
    # Graph's report throttling (5 requests per 10 s per app per tenant); None = off.
    sign_in_limit: RateLimit | None = GRAPH_REPORTS_LIMIT
    sign_in_window: SlidingWindow = field(default_factory=SlidingWindow)
    # Test hook: called (on the server's thread) when a sign-in log request arrives,
    # i.e. after a remediating run observed the tenant and before it writes.
    before_sign_ins: Callable[[], None] | None = None
    # Entra: multi-tenant app registrations and what each tenant consented to.
    directory: Directory = field(default_factory=Directory)
    _tenants: dict[str, SimTenant] = field(default_factory=dict)
    _in_flight: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    # -- tenants -------------------------------------------------------------

    def add_tenant(self, tenant: SimTenant) -> SimTenant:
        """Register `tenant`; it replaces any tenant with the same id or initial domain.

        Replacing (rather than refusing) lets tests on a shared server reuse
        readable domain names with a fresh tenant each time.
        """
        with self._lock:
            for key in (tenant.tenant_id, tenant.initial_domain):
                old = self._tenants.get(key)
                if old is not None:
                    self._drop(old)
            self._tenants[tenant.tenant_id] = tenant
            self._tenants[tenant.initial_domain] = tenant
        return tenant

    def find_tenant(self, id_or_domain: str) -> SimTenant | None:
        with self._lock:
            return self._tenants.get(id_or_domain.lower())

    def remove_tenant(self, id_or_domain: str) -> None:
        with self._lock:
            tenant = self._tenants.get(id_or_domain.lower())
            if tenant is None:
                raise KeyError(id_or_domain)
            self._drop(tenant)

    def _drop(self, tenant: SimTenant) -> None:
        for key in (tenant.tenant_id, tenant.initial_domain):
            if self._tenants.get(key) is tenant:
                del self._tenants[key]

    def tenants(self) -> list[SimTenant]:
        with self._lock:
            return list({id(t): t for t in self._tenants.values()}.values())

    def identity_tenant_id(self) -> str | None:
        """Where the managed identity's tokens are issued: ``identity_tenant``, else the
        first tenant registered (a deployment's identity lives in its home tenant)."""
        if self.identity_tenant:
            return self.identity_tenant.lower()
        with self._lock:
            first = next(iter(self._tenants.values()), None)
        return first.tenant_id if first is not None else None  # a SimTenant with no mailboxes is falsy

    # -- in-flight count per tenant (for the concurrency cap) --------------------

    def enter(self, tenant_id: str) -> int:
        with self._lock:
            self._in_flight[tenant_id] += 1
            return self._in_flight[tenant_id]

    def leave(self, tenant_id: str) -> None:
        with self._lock:
            self._in_flight[tenant_id] -= 1
            if self._in_flight[tenant_id] <= 0:
                del self._in_flight[tenant_id]  # unknown tenants must not pile up


STATE_KEY = web.AppKey("sim_state", SimState)
RECORD_KEY = web.RequestKey("sim_record", RequestRecord)
