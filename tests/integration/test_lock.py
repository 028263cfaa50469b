"""The per-tenant remediation lock, against Azurite's real ETag semantics."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables.aio import TableServiceClient

from shared.store.lock import LeaseLost, TenantLock

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


def wall() -> datetime:
    return datetime.now(UTC)


async def test_a_renewed_lease_outlives_its_length_while_the_holder_works(table):
    """The check lease: short, so a dead holder frees the tenant soon; renewed, so a
    long scan keeps it. Without renewal the second run would take it after 0.6 s."""
    lock = TenantLock(table, timedelta(seconds=0.6), row="check")
    async with lock.hold_renewed("t1", "scan", wall) as got:
        assert got
        for _ in range(4):  # 2 s: more than three lease lengths
            await asyncio.sleep(0.5)
            assert not await lock.acquire("t1", "next-tick", wall())
    assert await lock.holder("t1") is None  # released after
    assert await lock.acquire("t1", "next-tick", wall())


async def test_a_lease_that_changed_hands_stops_the_holder(table):
    lock = TenantLock(table, timedelta(seconds=0.6), row="check")
    entered = asyncio.Event()

    async def scan() -> None:
        async with lock.hold_renewed("t1", "scan", wall) as got:
            assert got
            entered.set()
            await asyncio.sleep(5)

    task = asyncio.create_task(scan())
    await entered.wait()
    # Someone took it over (say the holder stalled past its expiry): the next renewal sees it.
    await table.upsert_entity(
        {"PartitionKey": "t1", "RowKey": "check", "Owner": "other", "ExpiresAt": wall()}
    )
    with pytest.raises(LeaseLost, match="held by another run"):
        await asyncio.wait_for(task, 2)
    assert (await lock.holder("t1")).owner == "other"  # not ours to release


async def test_the_remediation_and_check_leases_of_a_tenant_are_apart(table):
    remediation, check = TenantLock(table), TenantLock(table, row="check")
    assert await remediation.acquire("t1", "a", NOW)
    assert await check.acquire("t1", "b", NOW)
