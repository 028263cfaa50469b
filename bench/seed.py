"""The desired state a benchmark tenant starts from, written with the product's own
store (validated rows, as ``smtp-auth-guard tenant add`` / ``exception add`` write)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date

from azure.data.tables.aio import TableServiceClient

from shared.core.model import MailboxException, TenantPolicy
from shared.store import DesiredStateStore, TableNames
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


async def write_tenants(connection_string: str, prefix: str, tenants: Sequence[tuple[str, str]]) -> None:
    """One tenant row per (tenant, domain), defaults otherwise (a fleet's), a few at a time."""
    names = TableNames.with_prefix(prefix)
    async with TableServiceClient.from_connection_string(connection_string) as service:
        await ensure_tables(service, names)
        store = DesiredStateStore(service.get_table_client(names.desired))
        gate = asyncio.Semaphore(16)

        async def one(tenant: str, domain: str) -> None:
            async with gate:
                await store.put_tenant(TenantPolicy(tenant, domain))

        await asyncio.gather(*(one(t, d) for t, d in tenants))
