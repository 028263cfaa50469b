"""The tenant every fault row starts from: checked once with drift recorded (one
rogue mailbox on each of two pages), then switched to remediate mode, so a read that
wrongly passed for whole would resolve a finding, or write to Exchange."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.core.model import CheckResult, Mode, Status
from shared.shell.cycle import run_cycle
from tests.integration.helpers import services
from tests.integration.notify_helpers import SENDER, TEAMS_SETTING, card_text, notified_policy

MAILBOXES = 1500  # two pages of 1,000


@dataclass
class Drifted:
    sim: Any
    tenant_id: str
    domain: str
    tenant: Any

    async def check(self, **services_kw: Any) -> CheckResult:
        """One cycle (check, record, notify), as the timer runs it."""
        async with services(**services_kw) as svc:
            (result,) = (await run_cycle(svc, self.tenant_id)).results
        return result

    async def check_while(self, action: Callable[[], object], after_s: float = 0.5) -> CheckResult:
        """One cycle, with ``action`` done from another thread ``after_s`` into it
        (while a slowed page is in flight): an outage or a revocation mid-run."""
        timer = threading.Timer(after_s, action)
        timer.start()
        try:
            return await self.check()
        finally:
            timer.join()

    async def open_findings(self) -> int:
        async with services() as svc:
            return len(await svc.history.open_findings(self.tenant_id))

    def posts(self) -> list[str]:
        return [card_text(p.card) for p in self.sim.teams_posts]


async def drifted(
    sim: Any, tenant_id: str, monkeypatch: Any, domain: str = "faults.onmicrosoft.com"
) -> Drifted:
    monkeypatch.setenv(TEAMS_SETTING, sim.add_teams_webhook())
    monkeypatch.setenv("SMTPAUTH_MAIL_SENDER", SENDER)
    tenant = sim.add_tenant(tenant_id, domain)
    tenant.seed(MAILBOXES, overrides={3: False, 1200: False})
    here = Drifted(sim, tenant_id, domain, tenant)
    async with services() as svc:
        await svc.desired.put_tenant(notified_policy(tenant_id, domain))
    first = await here.check()
    assert first.status is Status.DRIFT and len(first.findings) == 2
    # Page 2's rogue is fixed by hand: a read that stopped after page 1 would "resolve" it.
    tenant.apply_setting(tenant.mailbox_at(1200).guid, None)
    async with services() as svc:
        # No grace period: the fix (if any) is on the very next run.
        await svc.desired.put_tenant(notified_policy(tenant_id, domain, mode=Mode.REMEDIATE, grace_hours=0))
    sim.reset_records()
    return here


async def assert_could_not_check_and_nothing_changed(here: Drifted, result: CheckResult, said: str) -> None:
    """The row's promise: could not check (with why), no finding lost or resolved, no
    write to Exchange, told once."""
    assert result.status is Status.ERROR, result
    assert said in (result.error or ""), result.error
    assert result.remediation is None and here.sim.set_calls == []
    assert result.diff is None or not result.diff.resolved
    assert await here.open_findings() == 2
    told = [p for p in here.posts() if "Could not check SMTP AUTH in" in p]
    assert len(told) == 1, here.posts()
