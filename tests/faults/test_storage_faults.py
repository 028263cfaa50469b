"""Table Storage going away under a running app: nothing is written to Exchange
without its audit row, nothing recorded is lost, and the next run after storage is
back records what is there and tells it once (docs/reliability.md)."""

from __future__ import annotations

import asyncio

import pytest
from azure.data.tables.aio import TableServiceClient

import shared.shell.runtime as runtime_module
from shared.core.model import Status

from .drift import drifted
from .outage import held_storage, until

pytestmark = pytest.mark.usefixtures("app_env")


@pytest.fixture
async def storage(tmp_path, monkeypatch):
    """This test's own Azurite (its data on disk) behind ports the test holds
    throughout (tests/faults/outage.py), and Table Storage clients that give up in
    seconds: azure-core's defaults (10 tries, 300 s per read) would stretch the
    outage run to minutes, which is what Azure gets, not what a test can wait for."""
    async with held_storage(tmp_path / "azurite") as held:
        monkeypatch.setenv("AzureWebJobsStorage", held.connection_string)

        def quick(location, credential):
            return TableServiceClient.from_connection_string(
                location.connection_string,
                retry_total=2,
                retry_backoff_factor=0.05,
                retry_backoff_max=0.2,
                connection_timeout=2,
                read_timeout=5,
            )

        monkeypatch.setattr(runtime_module, "service_client", quick)
        yield held


@pytest.mark.timeout(90)
async def test_storage_stopped_mid_run_writes_nothing_to_exchange_and_the_next_run_records(
    sim, tenant_id, monkeypatch, storage
):
    here = await drifted(sim, tenant_id, monkeypatch)
    # Storage stops while page 2 is read: the check cannot take its audit row or record.
    sim.faults.slow(1.5, times=1, only_paged=True, tenant=tenant_id)

    async def stop_while_page_two_is_read() -> None:
        await until(lambda: sim.faults.fired.get("slow"), 20, "page 2 requested")
        await storage.stop()

    during, _ = await asyncio.wait_for(asyncio.gather(here.check(), stop_while_page_two_is_read()), 45)
    assert during.status is Status.ERROR and during.error, during  # could not check, with why
    assert "Table Storage at AzureWebJobsStorage" in during.error, during.error  # and where to look
    assert sim.set_calls == []  # no write without its audit row
    assert here.posts() == []  # nothing could be queued, so nothing was sent

    await storage.start()
    assert await here.open_findings() == 2  # nothing recorded before the outage was lost
    after = await asyncio.wait_for(here.check(), 30)
    assert after.status is Status.COMPLIANT and len(after.fixed) == 1  # page 1's rogue, fixed now
    assert len([c for c in sim.set_calls if c.status == 200]) == 1
    assert await here.open_findings() == 0
    (told,) = here.posts()  # one message: the fix, told once
    assert "fixed" in told.lower(), told


DELETED = "a table of the app was deleted while it runs; it is created again next run"


@pytest.mark.parametrize("table", ["Runs", "Audit", "Locks", "Findings", "Outbox"])
async def test_a_table_deleted_under_a_running_app_is_created_again_and_nothing_is_lost(
    sim, tenant_id, monkeypatch, app_env, table, caplog
):
    here = await drifted(sim, tenant_id, monkeypatch)
    name = app_env["SMTPAUTH_TABLE_PREFIX"] + table
    async with TableServiceClient.from_connection_string(app_env["AzureWebJobsStorage"]) as service:
        await service.delete_table(name)
    result = await here.check()
    writes = len([c for c in sim.set_calls if c.status == 200])
    if table == "Audit":  # remediation's guard: no audit row, no write
        assert result.status is Status.DRIFT and writes == 0
        assert "audit trail unavailable" in result.remediation.results[0].reason
        assert await here.open_findings() == 2 - 1  # page 2's rogue resolved; page 1's still open
    elif table == "Locks":  # no lock, no remediation: stopped, saying why
        assert result.status is Status.DRIFT and writes == 0
        assert DELETED in result.remediation.stopped
    elif table == "Outbox":  # checked, fixed and recorded; its message could not be kept
        assert result.status is Status.COMPLIANT and writes == 1
        assert "could not queue its notification (a table of the app was deleted" in caplog.text
    else:  # the fix was made and audited; the run could not be recorded, and says why
        assert result.status is Status.ERROR and DELETED in result.error
        assert "\n" not in result.error
    # The same process (its tables were "known to exist"): created again, and recorded.
    after = await here.check()
    assert after.status is Status.COMPLIANT
    async with TableServiceClient.from_connection_string(app_env["AzureWebJobsStorage"]) as service:
        rows = [e async for e in service.get_table_client(name).list_entities()]
    if table in ("Runs", "Audit"):  # written again (the others hold nothing by now)
        assert rows
    assert len([c for c in sim.set_calls if c.status == 200]) == 1  # one fix, never repeated
    assert await here.open_findings() == 0
    rogue = "• user00003@faults.onmicrosoft.com · "
    told_done = [
        line
        for post in here.posts()
        for line in post.splitlines()
        if line.startswith(rogue) and ("resolved" in line or "done and read back" in line)
    ]
    # Its end told once, not once per run. Not told: the message the deleted outbox
    # could not keep, and a fix whose run could not be recorded once the open findings
    # it would resolve were deleted (the audit trail has it).
    assert len(told_done) == (0 if table in ("Outbox", "Findings") else 1), here.posts()
