"""Build the edges of a check from settings: Exchange client, stores. One place,
used by the timer function, the CLI and the demo alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from azure.core.credentials_async import AsyncTokenCredential

from .engine import Services
from .evidence import EvidenceReader
from .exchange import ExchangeClient
from .remediation_apply import Remediator, VerifyTimings
from .settings import Settings
from .store import DesiredStateStore, HistoryStore, TableNames
from .store.audit import AuditStore
from .store.lock import TenantLock
from .store.tables import ensure_tables, service_client


@asynccontextmanager
async def open_services(
    settings: Settings, credential: AsyncTokenCredential, *, verify: VerifyTimings | None = None
) -> AsyncIterator[Services]:
    names = TableNames.with_prefix(settings.table_prefix)
    async with service_client(settings, credential) as tables:
        await ensure_tables(tables, names)
        async with ExchangeClient(settings.exchange_url, credential) as exchange:
            evidence = EvidenceReader(credential, settings.graph_url, settings.home_tenant)
            desired = DesiredStateStore(tables.get_table_client(names.desired), settings.home_tenant)
            try:
                yield Services(
                    exchange=exchange,
                    desired=desired,
                    history=HistoryStore(
                        tables.get_table_client(names.runs),
                        tables.get_table_client(names.findings),
                        tables.get_table_client(names.events),
                    ),
                    remediator=Remediator(
                        exchange=exchange,
                        evidence=evidence,
                        desired=desired,
                        lock=TenantLock(tables.get_table_client(names.locks)),
                        audit=AuditStore(tables.get_table_client(names.audit)),
                        timings=verify or VerifyTimings(),
                    ),
                )
            finally:
                await evidence.close()  # the Graph client holds sockets of its own

