"""Desired state in Table Storage: one row per tenant, one per approved exception."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.core.model import MailboxException, TenantLoad, TenantPolicy
from shared.core.validation import check_tenant_id, is_domain
from shared.store.rows import (
    EXCEPTION_PREFIX,
    TENANT_COLUMNS,
    TENANT_ROW,
    checked_exception_row,
    checked_tenant_entity,
    checked_tenant_row,
    group_policies,
    tenant_column,
)


class TenantRowChanged(Exception):
    """The tenant row was changed by someone else between reading and writing it."""


@dataclass(frozen=True)
class ColumnChange:
    """One column of a row as it was and as it is now (None: not in the row)."""

    column: str
    old: Any
    new: Any


def default_policy(home_tenant: str) -> TenantPolicy:
    """What a fresh deployment monitors: its own tenant, policy defaults, report only."""
    tenant_id = check_tenant_id(home_tenant)
    return TenantPolicy(tenant_id=tenant_id, initial_domain=tenant_id if is_domain(tenant_id) else "")


class DesiredStateStore:
    def __init__(self, table: TableClient, home_tenant: str | None = None) -> None:
        self._table = table
        self._home_tenant = home_tenant

    async def _entities(self, tenant: str | None) -> list[dict[str, Any]]:
        if tenant is None:
            pages = self._table.list_entities()
        else:
            pages = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": tenant.lower()})
        return [dict(entity) async for entity in pages]

    async def load(self, tenant: str | None = None) -> list[TenantLoad]:
        """Every tenant's desired state (or one tenant's), validated."""
        loads = group_policies(await self._entities(tenant))
        if loads or not self._home_tenant:
            return loads
        policy = default_policy(self._home_tenant)
        if tenant is not None and (tenant.lower() != policy.tenant_id or await self._has_rows()):
            return []
        return [TenantLoad(policy.tenant_id, policy)]

    async def _has_rows(self) -> bool:
        async for _ in self._table.list_entities(results_per_page=1, select=["RowKey"]):
            return True
        return False

    async def put_tenant(self, policy: TenantPolicy) -> None:
        """Write the tenant row whole. Checked first by the loader's own rules, so a
        row the next run would refuse is never written (RowError, nothing written)."""
        # MERGE keeps columns an admin added by hand (notes, owner) intact.
        await self._table.upsert_entity(checked_tenant_row(policy), mode=UpdateMode.MERGE)

    async def create_tenant(self, policy: TenantPolicy) -> bool:
        """Add a tenant row (checked as put_tenant is); False if the tenant has one."""
        try:
            await self._table.create_entity(checked_tenant_row(policy))
        except ResourceExistsError:
            return False
        return True

    async def tenant_row(self, tenant: str) -> dict[str, Any] | None:
        """The tenant row as stored (any columns added by hand included), or None."""
        try:
            return dict(await self._table.get_entity(tenant.lower(), TENANT_ROW))
        except ResourceNotFoundError:
            return None

    async def rows_of(self, tenant: str) -> list[dict[str, Any]]:
        """Every row of one tenant as stored."""
        return await self._entities(tenant)

    async def tenant_rows(self) -> list[dict[str, Any]]:
        """Every tenant row as stored, whether it parses or not."""
        pages = self._table.query_entities("RowKey eq @rk", parameters={"rk": TENANT_ROW})
        return [dict(entity) async for entity in pages]

    async def tenants_named(self, name: str) -> list[str]:
        """The tenant ids whose id or initial domain is ``name`` (case-insensitive).
        A fresh deployment (no rows) knows its home tenant by the name in its setting."""
        needle = name.strip().lower()
        rows = await self.tenant_rows()
        found = sorted(
            {
                str(row.get("PartitionKey", "")).lower()
                for row in rows
                if needle
                in (
                    str(row.get("PartitionKey", "")).lower(),
                    str(row.get("InitialDomain", "")).strip().lower(),
                )
            }
        )
        if (
            not found
            and self._home_tenant
            and needle == self._home_tenant.lower()
            and not await self._has_rows()
        ):
            return [needle]
        return found

    async def change_tenant(self, tenant: str, changes: Mapping[str, Any]) -> list[ColumnChange]:
        """Set the given TenantPolicy fields in the stored row and nothing else: only
        their columns are written (MERGE), and only if the row is still as read
        (ETag), so another admin's change in between is never overwritten. The row
        as it will be is checked by the loader's rules first. Returns what changed
        (nothing written when nothing did)."""
        try:
            stored = await self._table.get_entity(tenant.lower(), TENANT_ROW)
        except ResourceNotFoundError:
            raise KeyError(tenant) from None
        entity = dict(stored)
        columns = {TENANT_COLUMNS[name]: tenant_column(name, value) for name, value in changes.items()}
        changed = {column: value for column, value in columns.items() if entity.get(column) != value}
        checked_tenant_entity({**entity, **changed}, changes)
        if not changed:
            return []
        try:
            await self._table.update_entity(
                {"PartitionKey": entity["PartitionKey"], "RowKey": TENANT_ROW, **changed},
                mode=UpdateMode.MERGE,
                etag=stored.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except ResourceModifiedError:
            raise TenantRowChanged(tenant) from None
        return [ColumnChange(column, entity.get(column), value) for column, value in changed.items()]

    async def remove_tenant(self, tenant: str) -> int:
        """Delete the tenant row and its exceptions; returns how many rows went."""
        entities = await self._entities(tenant)
        for entity in entities:
            await self._table.delete_entity(entity["PartitionKey"], entity["RowKey"])
        return len(entities)

    async def put_exception(self, tenant: str, exc: MailboxException) -> None:
        """Write an exception row, checked by the loader's rules first (RowError)."""
        await self._table.upsert_entity(checked_exception_row(tenant, exc), mode=UpdateMode.REPLACE)

    async def delete_row(self, tenant: str, row_key: str) -> None:
        await self._table.delete_entity(tenant.lower(), row_key)  # a row already gone is not an error

    async def remove_exception(self, tenant: str, mailbox: str) -> int:
        """Remove the exceptions naming this address or GUID; returns how many."""
        needle = mailbox.strip().lower()
        removed = 0
        for entity in await self._entities(tenant):
            row_key = str(entity.get("RowKey", ""))
            if not row_key.startswith(EXCEPTION_PREFIX):
                continue
            names = {str(entity.get("Mailbox", "")).lower(), str(entity.get("MailboxGuid", "")).lower()}
            if needle in names:
                try:
                    await self._table.delete_entity(entity["PartitionKey"], row_key)
                    removed += 1
                except ResourceNotFoundError:
                    pass
        return removed
