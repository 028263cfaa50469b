"""The composition root: everything a run talks to, built once from settings.

The timer jobs, the CLI, the demo and the tests all open the same Runtime, so what
they run is what runs in Azure. One credential, one Table Storage service client,
one clock that the engine, the remediator and the notifier all read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError
from azure.data.tables.aio import TableClient, TableServiceClient
from azure.storage.queue.aio import QueueClient

from shared.adapters.check_queue import POISON_SUFFIX, queue_client
from shared.adapters.credentials import Federation, TenantCredentials, managed_identity
from shared.adapters.sendmail import MailSender
from shared.adapters.teams_webhook import TeamsSender
from shared.adapters.tenant_clients import TenantClients
from shared.notify.dispatch import Notifier, NotifyConfig
from shared.shell.remediator import Remediator, VerifyTimings
from shared.shell.settings import Settings
from shared.shell.unreachable import TABLES, ServiceUnreachable, is_connection_error
from shared.shell.warm import warm
from shared.store import DesiredStateStore, HistoryStore, TableNames
from shared.store.audit import AuditStore
from shared.store.health import HealthStore
from shared.store.lock import CHECK_LEASE, CHECK_ROW, TenantLock
from shared.store.outbox import OutboxStore
from shared.store.tables import ensure_tables, service_client


def utc_now() -> datetime:
    """The clock of a real run; tests pass their own to open_runtime()."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    """The edges of a run. Satisfies shared.shell.ports.CycleServices (and so Services)."""

    settings: Settings
    clock: Callable[[], datetime]
    clients: TenantClients
    desired: DesiredStateStore
    history: HistoryStore
    remediator: Remediator
    notifier: Notifier
    # The fan-out: each tenant's check health and the timer's last run, the lease
    # that keeps one check per tenant at a time, and the check queue (and its poison queue).
    health: HealthStore
    check_lease: TenantLock
    check_queue: QueueClient
    poison_queue: QueueClient


@dataclass
class Edges:
    """The clients a run talks through, and the stack that closes them (in reverse)."""

    credential: AsyncTokenCredential
    clients: TenantClients
    tables: TableServiceClient
    check_queue: QueueClient
    poison_queue: QueueClient
    teams: TeamsSender
    mail: MailSender
    stack: AsyncExitStack
    _table_clients: dict[str, TableClient] = field(default_factory=dict)

    def table(self, name: str) -> TableClient:
        """One client per table, kept with the rest (each costs a pipeline to build)."""
        if (client := self._table_clients.get(name)) is None:
            client = self._table_clients[name] = self.tables.get_table_client(name)
        return client

    async def close(self) -> None:
        await self.stack.aclose()


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    credential: AsyncTokenCredential | None = None,
    clock: Callable[[], datetime] = utc_now,
    verify: VerifyTimings | None = None,
    notify_config: NotifyConfig | None = None,
    keep_warm: bool = False,
    tenant_credential_options: Mapping[str, Any] | None = None,
) -> AsyncIterator[Runtime]:
    """Open every client a run needs and close them all after, in reverse order.

    Without ``credential`` the runtime uses (and closes) the managed identity; a
    credential passed in (the CLI's workstation credential) stays the caller's. With
    ``keep_warm`` (the Functions triggers) the managed identity and every client are
    the process's, kept for the next invocation (shared.shell.warm).
    ``tenant_credential_options`` go to each customer tenant's credential (tests pass
    ``connection_verify=`` the simulator's CA bundle there)."""
    async with AsyncExitStack() as stack:
        if credential is None and keep_warm:
            edges = await warm(_warm_key(settings), lambda: _warm_edges(settings))
        else:
            if credential is None:
                credential = await stack.enter_async_context(managed_identity(settings.client_id))
            edges = await open_edges(stack, settings, credential, tenant_credential_options or {})
        names = TableNames.with_prefix(settings.table_prefix)
        tables = edges.tables
        try:
            await ensure_tables(tables, names)  # once per process (remembered in shared.store.tables)
        except AzureError as exc:
            if is_connection_error(exc):  # the first call to storage: say which and where
                raise ServiceUnreachable(TABLES.format(setting=settings.storage.setting), exc) from exc
            raise
        clients = edges.clients
        desired = DesiredStateStore(edges.table(names.desired), settings.home_tenant)
        locks = edges.table(names.locks)
        history = HistoryStore(
            edges.table(names.runs),
            edges.table(names.findings),
            edges.table(names.events),
        )
        health = HealthStore(edges.table(names.health))
        yield Runtime(
            settings=settings,
            clock=clock,
            clients=clients,
            desired=desired,
            history=history,
            remediator=Remediator(
                clients=clients,
                desired=desired,
                history=history,
                health=health,
                lock=TenantLock(locks),
                audit=AuditStore(edges.table(names.audit)),
                clock=clock,
                timings=verify or VerifyTimings(),
            ),
            notifier=Notifier(
                OutboxStore(edges.table(names.outbox)),
                notify_config or NotifyConfig.from_settings(settings),
                teams=edges.teams,
                mail=edges.mail,
                clock=clock,
            ),
            health=health,
            check_lease=TenantLock(locks, CHECK_LEASE, row=CHECK_ROW),
            check_queue=edges.check_queue,
            poison_queue=edges.poison_queue,
        )


async def open_edges(
    stack: AsyncExitStack,
    settings: Settings,
    credential: AsyncTokenCredential,
    credential_options: Mapping[str, Any],
) -> Edges:
    """Every client of a run, entered on ``stack``. Clients only: nothing is sent
    until a run asks. Notifications keep the home identity (``credential``)."""
    tables = await stack.enter_async_context(service_client(settings.storage, credential))
    clients = await stack.enter_async_context(tenant_clients(settings, credential, **credential_options))
    queue = await stack.enter_async_context(queue_client(settings.storage, settings.check_queue, credential))
    poison = await stack.enter_async_context(
        queue_client(settings.storage, settings.check_queue + POISON_SUFFIX, credential)
    )
    teams = await stack.enter_async_context(TeamsSender())
    mail = MailSender(credential, settings.graph_url)
    stack.push_async_callback(mail.close)
    return Edges(credential, clients, tables, queue, poison, teams, mail, stack)


def tenant_clients(
    settings: Settings, credential: AsyncTokenCredential, **credential_options: Any
) -> TenantClients:
    """The one place the tenants' clients are built: each tenant's Exchange client and
    sign-in evidence reader, with that tenant's credential (the identity at home, the
    multi-tenant app elsewhere; ``credential_options`` go to each customer tenant's).
    Closing them closes the clients, then any credential made for a tenant (never
    ``credential`` itself). Notifications never use these: they keep the home identity
    (see open_edges)."""
    federation = Federation(
        home_tenant=settings.home_tenant,
        app_id=settings.multitenant_app_id,
        identity_client_id=settings.client_id,
        audience=settings.token_exchange_audience,
        authority=settings.authority_host,
    )
    credentials = TenantCredentials(credential, federation=federation, **credential_options)
    return TenantClients(credentials, settings.exchange_url, settings.graph_url)


def _warm_key(settings: Settings) -> tuple[object, ...]:
    # What the kept clients were built from: another identity, endpoint, storage
    # account or queue builds anew.
    return (
        settings.client_id,
        settings.exchange_url,
        settings.graph_url,
        settings.home_tenant,
        settings.multitenant_app_id,
        settings.token_exchange_audience,
        settings.authority_host,
        settings.storage,
        settings.check_queue,
    )


async def _warm_edges(settings: Settings) -> Edges:
    stack = AsyncExitStack()
    try:
        credential = await stack.enter_async_context(managed_identity(settings.client_id))
        return await open_edges(stack, settings, credential, {})
    except BaseException:
        await stack.aclose()
        raise
