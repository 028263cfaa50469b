"""Two checks of one tenant that overlap (a CLI check beside the timer's) both see a
finding resolved; the first deletes its open-finding row, and the second must still
record its run, not fail on the row that is already gone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.core.diff import diff
from shared.core.model import Status
from shared.shell.engine import check_tenants
from shared.store.runs import row_key_for

from .helpers import monitor, services

pytestmark = pytest.mark.usefixtures("app_env")


async def test_a_finding_the_overlapping_run_resolved_first_is_not_an_error(sim, tenant_id):
    domain = "overlap.onmicrosoft.com"
    sim.add_tenant(tenant_id, domain).seed(20, overrides={3: False, 7: False})
    async with services() as svc:
        await monitor(svc, tenant_id, domain)
        (first,) = await check_tenants(svc)
        assert first.status is Status.DRIFT and len(first.findings) == 2

        # Both mailboxes are fixed; the other run read the open findings (as this one
        # did) and deleted one of the two rows before this run writes.
        previous = await svc.history.open_findings(tenant_id)
        change = diff({k: v.finding for k, v in previous.items()}, (), ())
        assert len(change.resolved) == 2
        gone = min(previous.values(), key=lambda f: f.finding.target)
        await svc.history._findings.delete_entity(tenant_id, row_key_for(gone.finding.key))

        await svc.history._apply(tenant_id, change, previous, datetime.now(UTC))

        assert await svc.history.open_findings(tenant_id) == {}  # both rows gone, no error
        resolved = [e for e in await svc.history.events(tenant_id) if str(e.change) == "resolved"]
        assert len(resolved) == 2  # this run's own log of what it saw resolve
