"""Per-tenant leases in Table Storage: the remediation lock, so two runs never
change the same tenant at once (a run that outlasts its interval, a manual CLI run
or a retried execution can overlap), and the check lease, so a tenant is checked
by one queue worker at a time (a message delivered twice, or enqueued again by the
next tick while a long scan still runs).

A lease row with an expiry: create-if-absent takes it; an expired lease is taken
over with an ETag condition, so of two runs racing for it exactly one wins. A long
holder renews it (``hold_renewed``): a short lease frees a tenant soon after its
holder died, and renewal keeps it for as long as a live holder works.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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
CHECK_ROW = "check"
DEFAULT_LEASE = timedelta(minutes=15)  # longer than the function timeout (10 min)
# The check lease: short, so a worker that died frees its tenant within a minute (the
# queue's visibilityTimeout, 1 minute, is at least this: its retry finds it free);
# renewed every third of it while the check runs.
CHECK_LEASE = timedelta(seconds=60)


class LeaseLost(RuntimeError):
    """The lease could not be renewed: another holder may have it now."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lease, since when (for "already being checked" messages)."""

    owner: str
    started_at: datetime | None
    expires_at: datetime


class TenantLock:
    def __init__(self, table: TableClient, lease: timedelta = DEFAULT_LEASE, *, row: str = ROW) -> None:
        self._table = table
        self._lease = lease
        self._row = row
        # The ETag of each lease this instance last wrote, by (tenant, owner): release
        # then deletes with it in one request; a lease changed since (taken over after
        # it expired) fails that condition and is looked at first.
        self._etags: dict[tuple[str, str], str] = {}

    @property
    def lease(self) -> timedelta:
        return self._lease

    async def acquire(self, tenant: str, owner: str, now: datetime, *, _again: bool = True) -> bool:
        entity = {
            "PartitionKey": tenant,
            "RowKey": self._row,
            "Owner": owner,
            "StartedAt": now,
            "ExpiresAt": now + self._lease,
        }
        try:
            self._wrote(tenant, owner, await self._table.create_entity(entity))
            return True
        except ResourceExistsError:
            pass
        try:
            current = await self._table.get_entity(tenant, self._row)
        except ResourceNotFoundError:
            # Released meanwhile: try once more, not forever.
            return await self.acquire(tenant, owner, now, _again=False) if _again else False
        if current["ExpiresAt"] > now:
            return False
        try:
            written = await self._table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=current.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
            self._wrote(tenant, owner, written)
            return True
        except (ResourceModifiedError, ResourceNotFoundError):
            return False  # another run took the expired lease first

    async def holder(self, tenant: str) -> Holder | None:
        """The lease's current holder (its expiry may be past), or None when free."""
        try:
            current = await self._table.get_entity(tenant, self._row)
        except ResourceNotFoundError:
            return None
        return Holder(str(current.get("Owner", "")), current.get("StartedAt"), current["ExpiresAt"])

    async def renew(self, tenant: str, owner: str, now: datetime) -> None:
        """Move our lease's expiry on; LeaseLost when it is no longer ours."""
        try:
            current = await self._table.get_entity(tenant, self._row)
        except ResourceNotFoundError:
            raise LeaseLost(f"tenant {tenant}: the {self._row} lease is gone") from None
        if current.get("Owner") != owner:
            raise LeaseLost(f"tenant {tenant}: the {self._row} lease is held by another run now")
        try:
            written = await self._table.update_entity(
                {"PartitionKey": tenant, "RowKey": self._row, "ExpiresAt": now + self._lease},
                mode=UpdateMode.MERGE,
                etag=current.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            raise LeaseLost(f"tenant {tenant}: the {self._row} lease changed hands while renewing") from None
        self._wrote(tenant, owner, written)

    async def release(self, tenant: str, owner: str) -> None:
        etag = self._etags.pop((tenant, owner), None)
        if etag is not None:
            try:
                await self._delete(tenant, etag)
                return
            except ResourceNotFoundError:
                return
            except ResourceModifiedError:
                pass  # written since: by a renewal whose answer was lost, or by a new holder
        try:
            current = await self._table.get_entity(tenant, self._row)
        except ResourceNotFoundError:
            return
        if current.get("Owner") != owner:
            return  # our lease expired and someone else holds it now: not ours to drop
        with suppress(ResourceModifiedError, ResourceNotFoundError):
            await self._delete(tenant, current.metadata["etag"])

    async def _delete(self, tenant: str, etag: str | None) -> None:
        await self._table.delete_entity(
            tenant, self._row, etag=etag, match_condition=MatchConditions.IfNotModified
        )

    def _wrote(self, tenant: str, owner: str, metadata: Mapping[str, Any]) -> None:
        if etag := metadata.get("etag"):
            self._etags[(tenant, owner)] = etag

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

    @asynccontextmanager
    async def hold_renewed(
        self, tenant: str, owner: str, clock: Callable[[], datetime]
    ) -> AsyncIterator[bool]:
        """``hold``, renewed every third of the lease while the body runs. If a renewal
        finds the lease gone to someone else, the body is cancelled (LeaseLost is
        raised): two checks of one tenant must not run on."""
        got = await self.acquire(tenant, owner, clock())
        if not got:
            yield False
            return
        body = asyncio.current_task()
        lost: list[LeaseLost] = []

        async def renew_forever() -> None:
            while True:
                await asyncio.sleep(self._lease.total_seconds() / 3)
                try:
                    await self.renew(tenant, owner, clock())
                except LeaseLost as exc:
                    lost.append(exc)
                    if body is not None:
                        body.cancel()
                    return
                except AzureError as exc:  # a blip: the next renewal may get through
                    log.warning("tenant %s: could not renew the %s lease: %s", tenant, self._row, exc)

        renewer = asyncio.create_task(renew_forever())
        try:
            yield True
        except asyncio.CancelledError:
            if lost:
                if body is not None:
                    body.uncancel()  # our own cancel: the caller sees LeaseLost instead
                raise lost[0] from None
            raise
        finally:
            renewer.cancel()
            with suppress(asyncio.CancelledError):
                await renewer
            if not lost:
                try:
                    await self.release(tenant, owner)
                except AzureError as exc:
                    log.warning("tenant %s: could not release the %s lease: %s", tenant, self._row, exc)
