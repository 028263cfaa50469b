"""The per-tenant remediation lock, against Azurite's real ETag semantics."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables.aio import TableServiceClient

from shared.store.lock import TenantLock

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture
async def table(azurite):
    name = "Lock" + uuid.uuid4().hex[:10]
    async with TableServiceClient.from_connection_string(azurite.connection_string) as service:
        await service.create_table(name)
        yield service.get_table_client(name)


async def test_only_one_of_many_racing_runs_gets_it(table):
    lock = TenantLock(table)
    got = await asyncio.gather(*(lock.acquire("t1", f"run{i}", NOW) for i in range(8)))
    assert got.count(True) == 1


async def test_released_lock_can_be_taken_again_and_only_the_owner_releases(table):
    lock = TenantLock(table)
    assert await lock.acquire("t1", "a", NOW)
    await lock.release("t1", "b")  # not b's lock
    assert not await lock.acquire("t1", "c", NOW)
    await lock.release("t1", "a")
    assert await lock.acquire("t1", "c", NOW)


async def test_an_expired_lease_is_taken_over_by_exactly_one(table):
    lock = TenantLock(table, lease=timedelta(minutes=15))
    assert await lock.acquire("t1", "crashed", NOW)
    later = NOW + timedelta(minutes=16)
    got = await asyncio.gather(*(lock.acquire("t1", f"run{i}", later) for i in range(6)))
    assert got.count(True) == 1
    await lock.release("t1", "crashed")  # the old owner's late release must not free it
    assert not await lock.acquire("t1", "another", later)


async def test_hold_releases_on_error(table):
    lock = TenantLock(table)
    with pytest.raises(RuntimeError):
        async with lock.hold("t1", "a", NOW) as got:
            assert got
            raise RuntimeError("boom")
    assert await lock.acquire("t1", "b", NOW)


async def test_tenants_do_not_block_each_other(table):
    lock = TenantLock(table)
    assert await lock.acquire("t1", "a", NOW) and await lock.acquire("t2", "a", NOW)
