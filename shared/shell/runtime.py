"""Build the edges of a check from settings: Exchange client, stores, notifier. One
place, used by the timer function, the CLI and the demo alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from azure.core.credentials_async import AsyncTokenCredential

from shared.adapters.exchange import ExchangeClient
from shared.adapters.sendmail import MailSender
from shared.adapters.signins import EvidenceReader
from shared.adapters.teams_webhook import TeamsSender
from shared.notify.dispatch import Notifier, NotifyConfig
from shared.shell.engine import Services
from shared.shell.remediator import Remediator, VerifyTimings
from shared.shell.settings import Settings
from shared.store import DesiredStateStore, HistoryStore, TableNames
from shared.store.audit import AuditStore
from shared.store.lock import TenantLock
from shared.store.outbox import OutboxStore
from shared.store.tables import ensure_tables, service_client


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


@asynccontextmanager
async def open_notifier(
    settings: Settings, credential: AsyncTokenCredential, *, config: NotifyConfig | None = None
) -> AsyncIterator[Notifier]:
    """The outbox and the two senders, with the same identity as the check. Use it
    inside open_services(), which creates the tables."""
    names = TableNames.with_prefix(settings.table_prefix)
    mail = MailSender(credential, settings.graph_url)
    async with service_client(settings, credential) as tables, TeamsSender() as teams:
        try:
            yield Notifier(
                OutboxStore(tables.get_table_client(names.outbox)),
                config or NotifyConfig.from_settings(settings),
                teams=teams,
                mail=mail,
            )
        finally:
            await mail.close()
