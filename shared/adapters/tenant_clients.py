"""The clients of each monitored tenant, built on first use and kept.

A tenant's Exchange client and sign-in evidence reader both get the credential of
that tenant (``TenantCredentials.for_tenant``). Kept between uses, they keep their
connections and their cached token: a check, its remediation and its read-back ask
for one token per tenant, not one each. At most ``max_tenants`` are kept; the least
recently used one that nobody is using is closed first, so an MSP's hundreds of
tenants cost a bounded number of connection pools. Whoever opens this closes it,
and with it every client.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Self

from shared.adapters.credentials import TenantCredentials
from shared.adapters.signins import EvidenceReader
from shared.adapters.smtp_auth import SmtpAuthClient

MAX_TENANTS = 50


@dataclass
class TenantClient:
    """One tenant's clients."""

    exchange: SmtpAuthClient
    evidence: EvidenceReader
    app_id: str | None = None  # the multi-tenant app its credential is for; None: the identity
    users: int = field(default=0, repr=False)  # callers inside use(): never evicted meanwhile

    async def close(self) -> None:
        try:
            await self.exchange.close()
        finally:
            await self.evidence.close()


class TenantClients:
    """Tenant id -> TenantClient, at most ``max_tenants`` kept.

    ``exchange_options`` configure each tenant's Exchange pipeline (``retry_total=``,
    ``read_timeout=``, ...): values, not policy objects, since each tenant's pipeline
    needs policies of its own.
    """

    def __init__(
        self,
        credentials: TenantCredentials,
        exchange_url: str,
        graph_url: str,
        *,
        max_tenants: int = MAX_TENANTS,
        **exchange_options: Any,
    ) -> None:
        if max_tenants < 1:
            raise ValueError("max_tenants must be at least 1")
        self._credentials = credentials
        self._exchange_url = exchange_url
        self._graph_url = graph_url
        self._max = max_tenants
        self._options = exchange_options
        self._clients: OrderedDict[str, TenantClient] = OrderedDict()

    def __len__(self) -> int:
        return len(self._clients)

    @property
    def credentials(self) -> TenantCredentials:
        """The credentials the tenants' clients are built with (one per tenant)."""
        return self._credentials

    def get(self, tenant_id: str, app_id: str | None = None) -> TenantClient:
        """The tenant's clients, built on first use (through ``app_id``, the tenant
        row's own multi-tenant app, if it names one). Hold them through use() for the
        length of a piece of work; get() alone is for code already inside a use()."""
        key = tenant_id.lower()
        client = self._clients.get(key)
        if client is None:
            credential = self._credentials.for_tenant(tenant_id, app_id)
            client = TenantClient(
                SmtpAuthClient(self._exchange_url, tenant_id, credential, **self._options),
                EvidenceReader(tenant_id, credential, self._graph_url),
                app_id=self._credentials.app_for(tenant_id, app_id),
            )
            self._clients[key] = client
        else:
            self._clients.move_to_end(key)
        return client

    @asynccontextmanager
    async def use(self, tenant_id: str, *, app_id: str | None = None) -> AsyncIterator[TenantClient]:
        """The tenant's clients, not closed (evicted) while the block runs; ``app_id``
        as for get(). Clients kept from before for another app (the row's AppId was
        edited) are closed and built again, unless someone is still using them."""
        kept = self._clients.get(tenant_id.lower())
        if (
            kept is not None
            and not kept.users
            and kept.app_id != self._credentials.app_for(tenant_id, app_id)
        ):
            await self._clients.pop(tenant_id.lower()).close()
        client = self.get(tenant_id, app_id)
        client.users += 1
        try:
            await self._trim()
            yield client
        finally:
            client.users -= 1
            await self._trim()

    async def _trim(self) -> None:
        while len(self._clients) > self._max:
            idle = next((key for key, c in self._clients.items() if not c.users), None)
            if idle is None:
                return  # every one is in use: over the bound until one is released
            await self._clients.pop(idle).close()

    async def close(self) -> None:
        """Close every client, then the credentials made for tenants."""
        clients = list(self._clients.values())
        self._clients.clear()
        try:
            for client in clients:
                await client.close()
        finally:
            await self._credentials.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
