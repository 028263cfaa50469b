"""A per-tenant remediation lock in Table Storage, so two runs never change the
same tenant at once (the timer is a singleton, but a run that outlasts its
interval, a manual CLI run or a retried execution can overlap).

A lease row with an expiry: create-if-absent takes it; an expired lease is taken
over with an ETag condition, so of two runs racing for it exactly one wins.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

log = logging.getLogger(__name__)

ROW = "remediation"
DEFAULT_LEASE = timedelta(minutes=15)  # longer than the function timeout (10 min)


class TenantLock:
    def __init__(self, table: TableClient, lease: timedelta = DEFAULT_LEASE) -> None:
        self._table = table
        self._lease = lease

    async def acquire(self, tenant: str, owner: str, now: datetime, *, _again: bool = True) -> bool:
        entity = {"PartitionKey": tenant, "RowKey": ROW, "Owner": owner, "ExpiresAt": now + self._lease}
        try:
            await self._table.create_entity(entity)
            return True
        except ResourceExistsError:
            pass
        try:
            current = await self._table.get_entity(tenant, ROW)
        except ResourceNotFoundError:
            # Released meanwhile: try once more, not forever.
            return await self.acquire(tenant, owner, now, _again=False) if _again else False
        if current["ExpiresAt"] > now:
            return False
        try:
            await self._table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=current.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
            return True
        except (ResourceModifiedError, ResourceNotFoundError):
            return False  # another run took the expired lease first

    async def release(self, tenant: str, owner: str) -> None:
        try:
            current = await self._table.get_entity(tenant, ROW)
        except ResourceNotFoundError:
            return
        if current.get("Owner") != owner:
            return  # our lease expired and someone else holds it now: not ours to drop
        with suppress(ResourceModifiedError, ResourceNotFoundError):
            await self._table.delete_entity(
                tenant, ROW, etag=current.metadata["etag"], match_condition=MatchConditions.IfNotModified
            )

    @asynccontextmanager
    async def hold(self, tenant: str, owner: str, now: datetime) -> AsyncIterator[bool]:
        """``async with lock.hold(...) as got:`` -- got is False when another run has it."""
        got = await self.acquire(tenant, owner, now)
        try:
            yield got
        finally:
            if got:
                try:
                    await self.release(tenant, owner)
                except AzureError as exc:
                    # The lease expires by itself; a failed release must not hide what was done.
                    log.warning("tenant %s: could not release the remediation lock: %s", tenant, exc)
