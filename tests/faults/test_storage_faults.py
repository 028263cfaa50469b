"""Table Storage going away under a running app: nothing is written to Exchange
without its audit row, nothing recorded is lost, and the next run after storage is
back records what is there and tells it once (docs/reliability.md)."""

from __future__ import annotations

import pytest
from azure.data.tables.aio import TableServiceClient

from shared.core.model import Status

from .drift import drifted

pytestmark = pytest.mark.usefixtures("app_env")


@pytest.mark.parametrize("table", ["Runs", "Audit"])
async def test_a_table_deleted_under_a_running_app_is_created_again_and_nothing_is_lost(
    sim, tenant_id, monkeypatch, app_env, table
):
    here = await drifted(sim, tenant_id, monkeypatch)
    name = app_env["SMTPAUTH_TABLE_PREFIX"] + table
    async with TableServiceClient.from_connection_string(app_env["AzureWebJobsStorage"]) as service:
        await service.delete_table(name)
    result = await here.check()
    if table == "Audit":  # remediation's guard: no audit row, no write
        assert result.status is Status.DRIFT and sim.set_calls == []
        assert "audit trail unavailable" in result.remediation.results[0].reason
        assert await here.open_findings() == 2 - 1  # page 2's rogue resolved; page 1's still open
    else:  # the fix was made and audited; the run could not be recorded, and says why
        assert result.status is Status.ERROR and "table of the app was deleted" in result.error
        assert "\n" not in result.error
    # The same process (its tables were "known to exist"): created again, and recorded.
    after = await here.check()
    assert after.status is Status.COMPLIANT
    async with TableServiceClient.from_connection_string(app_env["AzureWebJobsStorage"]) as service:
        rows = [e async for e in service.get_table_client(name).list_entities()]
    assert rows  # written again
