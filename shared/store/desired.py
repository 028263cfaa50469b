"""Desired state in Table Storage: one row per tenant, one per approved exception."""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.core.model import MailboxException, TenantLoad, TenantPolicy
from shared.core.validation import check_tenant_id, is_domain
from shared.store.rows import EXCEPTION_PREFIX, exception_entity, group_policies, tenant_entity


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
        # MERGE keeps columns an admin added by hand (notes, owner) intact.
        await self._table.upsert_entity(tenant_entity(policy), mode=UpdateMode.MERGE)

    async def remove_tenant(self, tenant: str) -> int:
        """Delete the tenant row and its exceptions; returns how many rows went."""
        entities = await self._entities(tenant)
        for entity in entities:
            await self._table.delete_entity(entity["PartitionKey"], entity["RowKey"])
        return len(entities)

    async def put_exception(self, tenant: str, exc: MailboxException) -> None:
        await self._table.upsert_entity(exception_entity(tenant, exc), mode=UpdateMode.REPLACE)

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
