"""The desired state a benchmark tenant starts from, written with the product's own
store (validated rows, as ``smtp-auth-guard tenant add`` / ``exception add`` write)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import date

from azure.data.tables.aio import TableServiceClient

from shared.core.model import MailboxException, TenantPolicy
from shared.store import DesiredStateStore, TableNames
from shared.store.health import TENANTS
from shared.store.rows import exception_row_key
from shared.store.tables import ensure_tables


async def write_desired_state(
    connection_string: str, prefix: str, tenant: str, domain: str, approved: Sequence[str]
) -> None:
    """The tenant row, and one approved exception per address in ``approved``.

    Exceptions are recorded by address (no GUID): the CLI would look each GUID up in
    Exchange first, which is not what is being measured here."""
    names = TableNames.with_prefix(prefix)
    async with TableServiceClient.from_connection_string(connection_string) as service:
        await ensure_tables(service, names)
        store = DesiredStateStore(service.get_table_client(names.desired))
        await store.put_tenant(TenantPolicy(tenant, domain))
        for address in approved:
            await store.put_exception(
                tenant,
                MailboxException(
                    row_key=exception_row_key(None, address),
                    mailbox=address,
                    mailbox_guid=None,
                    reason="benchmark: scan to mail",
                    approver="ciso@" + domain,
                    expires=date(2099, 12, 31),
                ),
            )


async def write_tenants(
    connection_string: str,
    prefix: str,
    tenants: Sequence[tuple[str, str]],
    sizes: Mapping[str, int] | None = None,
) -> None:
    """One tenant row per (tenant, domain), defaults otherwise (a fleet's), a few at a time.
    With ``sizes`` (tenant -> mailboxes), each tenant's health row also says what a previous
    cycle read (``Mailboxes``, all the timer orders by), and nothing else of that cycle."""
    names = TableNames.with_prefix(prefix)
    async with TableServiceClient.from_connection_string(connection_string) as service:
        await ensure_tables(service, names)
        store = DesiredStateStore(service.get_table_client(names.desired))
        health = service.get_table_client(names.health)
        gate = asyncio.Semaphore(16)

        async def one(tenant: str, domain: str) -> None:
            async with gate:
                await store.put_tenant(TenantPolicy(tenant, domain))
                if sizes is not None:
                    await health.upsert_entity(
                        {"PartitionKey": TENANTS, "RowKey": tenant, "Mailboxes": sizes[tenant]}
                    )

        await asyncio.gather(*(one(t, d) for t, d in tenants))
