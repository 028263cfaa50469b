"""Record a tenant as "could not check" from outside a check: a message the queue
gave up on (poison), or a tenant whose checks stopped arriving (overdue). The run is
recorded and told like any other could-not-check: told once, reminded while it
lasts, "checks working again" when a check succeeds."""

from __future__ import annotations

import logging
from dataclasses import replace

from shared.core.model import CheckResult, Status, TenantLoad
from shared.shell.runtime import Runtime

log = logging.getLogger(__name__)


async def record_could_not_check(
    runtime: Runtime, load: TenantLoad, reason: str, *, as_check: bool
) -> CheckResult:
    """``as_check``: the outcome of a check attempt (poison), kept as the tenant's last
    check in the health view; an overdue run is not one (the tenant's checks are what
    is missing), so the next tick still finds it silent and keeps reminding."""
    policy = load.policy
    result = CheckResult(
        tenant_id=load.tenant_id,
        checked_at=runtime.clock(),
        status=Status.ERROR,
        org_desired=policy.desired_org_disabled if policy else None,
        error=reason,
        policy=policy,
        recipients=load.recipients,  # a broken row's recipients that parse hear it too
    )
    recorded = await runtime.history.record(result)
    result = replace(result, previous_status=recorded.previous_status, previous_run=recorded.previous_run)
    log.error("tenant %s could not be checked: %s", load.tenant_id, reason)
    await runtime.notifier.queue_results([result], runtime.history)
    if as_check:
        await runtime.health.checked(result, None)
    await runtime.notifier.deliver([load.tenant_id])
    return result
