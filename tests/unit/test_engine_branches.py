"""The engine's and the cycle's failure branches, on in-memory fakes of their ports
(shared.shell.ports): storage down while recording, remediation raising, the
follow-up failing, a failed read, malformed desired state, one tenant raising.

Fakes of our own ports only: the real stores, Exchange client and notifier are
proven against Azurite and the simulator in tests/integration. Here every branch
runs in milliseconds and each test fails if its branch is taken out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from azure.core.exceptions import ServiceRequestError

from shared.adapters.exchange_errors import ExchangePermissionError, ExchangeThrottledError
from shared.core.basic_auth import BasicAuthPolicy
from shared.core.diff import diff
from shared.core.model import (
    CheckResult,
    Finding,
    FindingKind,
    MailboxSetting,
    Mode,
    Observation,
    RemediationOutcome,
    Status,
    TenantLoad,
    TenantPolicy,
)
from shared.notify.dispatch import Delivery
from shared.shell.cycle import run_cycle
from shared.shell.engine import check_tenants, plan_tenant
from shared.shell.settings import Settings, StorageSettings
from shared.store.records import OpenFinding, RunRecord
from shared.store.runs import Recorded

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
A = "0a000000-0000-4000-8000-00000000000a"
B = "0b000000-0000-4000-8000-00000000000b"
C = "0c000000-0000-4000-8000-00000000000c"
STORAGE_DOWN = "Table Storage unreachable"


# -- fakes of the ports ------------------------------------------------------------------


def policy(tenant: str, mode: Mode = Mode.REPORT, *, enabled: bool = True) -> TenantPolicy:
    return TenantPolicy(
        tenant_id=tenant, initial_domain=f"{tenant[:2]}.onmicrosoft.com", mode=mode, enabled=enabled
    )


def load(tenant: str, mode: Mode = Mode.REPORT, *, enabled: bool = True) -> TenantLoad:
    return TenantLoad(tenant, policy(tenant, mode, enabled=enabled))


class MemoryDesired:
    def __init__(self, *loads: TenantLoad) -> None:
        self.loads = list(loads)

    async def load(self, tenant: str | None = None) -> list[TenantLoad]:
        return [x for x in self.loads if tenant is None or x.tenant_id == tenant]


@dataclass
class MemoryExchange:
    """One tenant's Exchange: the org switch, mailbox pages, and a failure to arm."""

    tenant_id: str
    org: bool = False  # SMTP AUTH on for the org: org-setting drift
    pages: list[list[MailboxSetting]] = field(default_factory=lambda: [[], []])
    fail_org: BaseException | None = None
    fail_page: int | None = None  # this page (0-based) raises fail_with
    fail_with: BaseException | None = None
    reads: list[str] = field(default_factory=list)

    async def org_smtp_auth_disabled(self) -> bool:
        self.reads.append("org")
        if self.fail_org is not None:
            raise self.fail_org
        return self.org

    async def basic_auth_policy(self) -> BasicAuthPolicy:
        return BasicAuthPolicy(True, None, True)

    async def cas_mailbox_pages(
        self,
        on_progress: Callable[[int], None] | None = None,
        *,
        keep: Callable[[str, str, bool | None], bool] | None = None,
    ) -> AsyncIterator[list[MailboxSetting]]:
        seen = 0
        for number, page in enumerate(self.pages):
            self.reads.append(f"page {number}")
            if number == self.fail_page:
                assert self.fail_with is not None
                raise self.fail_with
            seen += len(page)
            if on_progress:
                on_progress(seen)
            yield [m for m in page if keep is None or keep(m.guid, m.address, m.smtp_auth_disabled)]


@dataclass
class MemoryTenantClient:
    exchange: MemoryExchange


class MemoryClients:
    def __init__(self, *exchanges: MemoryExchange) -> None:
        self.exchanges = {e.tenant_id: e for e in exchanges}
        self.used: list[str] = []

    @asynccontextmanager
    async def use(self, tenant_id: str, *, app_id: str | None = None) -> AsyncIterator[MemoryTenantClient]:
        self.used.append(tenant_id)
        yield MemoryTenantClient(self.exchanges[tenant_id])


class MemoryHistory:
    """Run history in memory, diffed like the real one (core.diff), that can be down:
    ``fail[tenant]`` is how many of that tenant's next record() calls raise."""

    def __init__(self) -> None:
        self.recorded: list[CheckResult] = []
        self.open: dict[str, dict[str, Finding]] = {}
        self.fail: dict[str, float] = {}

    async def record(self, result: CheckResult) -> Recorded:
        tenant = result.tenant_id
        if self.fail.get(tenant, 0) > 0:
            self.fail[tenant] -= 1
            raise ServiceRequestError(STORAGE_DOWN)
        before = [r for r in self.recorded if r.tenant_id == tenant]
        change = None
        if result.status is not Status.ERROR:  # as the real store: not knowing is not resolved
            change = diff(self.open.get(tenant, {}), result.findings)
            self.open[tenant] = {f.key: f for f in result.findings}
        self.recorded.append(result)
        if not before:
            return Recorded(change, None, "")
        return Recorded(change, before[-1].status, f"run-{len(before)}")

    async def open_findings(self, tenant: str) -> dict[str, OpenFinding]:
        return {k: OpenFinding(f, NOW) for k, f in self.open.get(tenant, {}).items()}

    async def runs(self, tenant: str, limit: int = 20) -> list[RunRecord]:
        return []

    async def last_successful_run(self, tenant: str) -> RunRecord | None:
        return None

    def of(self, tenant: str) -> list[CheckResult]:
        return [r for r in self.recorded if r.tenant_id == tenant]


class MemoryRemediator:
    def __init__(self, fail: BaseException | None = None) -> None:
        self.fail = fail
        self.calls: list[tuple[str, bool]] = []

    async def run(
        self,
        policy: TenantPolicy,
        observed: Observation,
        findings: Sequence[Finding],
        now: datetime,
        *,
        dry_run: bool = False,
    ) -> RemediationOutcome | None:
        self.calls.append((policy.tenant_id, dry_run))
        if self.fail is not None:
            raise self.fail
        return RemediationOutcome(policy.mode, note="nothing to do")


class MemoryNotifier:
    def __init__(self, fail_for: Iterable[str] = ()) -> None:
        self.fail_for = set(fail_for)
        self.queued: list[CheckResult] = []
        self.delivered: list[list[str]] = []

    async def queue_results(self, results: Sequence[CheckResult], history: object) -> int:
        for result in results:
            if result.tenant_id in self.fail_for:
                raise ServiceRequestError(f"outbox unreachable for {result.tenant_id}")
            self.queued.append(result)
        return len(results)

    async def deliver(self, tenants: Iterable[str]) -> Delivery:
        self.delivered.append(list(tenants))
        return Delivery()


@dataclass
class MemoryHealth:
    checked_results: list[CheckResult] = field(default_factory=list)

    async def checked(self, result: CheckResult, open_findings: int | None) -> None:
        self.checked_results.append(result)


@dataclass
class Edges:
    """A Runtime's shape (shared.shell.ports.CycleServices), all in memory."""

    desired: MemoryDesired
    clients: MemoryClients
    history: MemoryHistory = field(default_factory=MemoryHistory)
    remediator: MemoryRemediator = field(default_factory=MemoryRemediator)
    notifier: MemoryNotifier = field(default_factory=MemoryNotifier)
    health: MemoryHealth = field(default_factory=MemoryHealth)
    settings: Settings = field(default_factory=lambda: Settings(storage=StorageSettings()))
    clock: Callable[[], datetime] = lambda: NOW


def edges(*loads: TenantLoad, **exchanges: MemoryExchange) -> Edges:
    """Every tenant gets a plain drifting Exchange unless one is given by tenant id."""
    by_id = {e.tenant_id: e for e in exchanges.values()}
    return Edges(
        MemoryDesired(*loads),
        MemoryClients(*(by_id.get(x.tenant_id) or MemoryExchange(x.tenant_id) for x in loads)),
    )


def by_tenant(results: Iterable[CheckResult]) -> dict[str, CheckResult]:
    return {r.tenant_id: r for r in results}


# -- the happy path the branches are measured against ---------------------------------------


async def test_a_checked_tenant_is_recorded_and_carries_its_diff_and_previous_run():
    svc = edges(load(A))
    first = (await check_tenants(svc))[0]
    assert first.status is Status.DRIFT
    assert [f.kind for f in first.findings] == [FindingKind.ORG_SETTING_DRIFT]
    assert first.diff is not None and len(first.diff.opened) == 1
    assert first.previous_status is None and first.previous_run == ""

    second = (await check_tenants(svc))[0]
    assert second.diff is not None and len(second.diff.unchanged) == 1 and not second.diff.opened
    assert second.previous_status is Status.DRIFT and second.previous_run == "run-1"
    assert svc.remediator.calls == []  # report mode never remediates


# -- storage down when recording ------------------------------------------------------------


async def test_history_down_reports_could_not_check_and_the_others_go_on(caplog):
    svc = edges(load(A), load(B))
    svc.history.fail[A] = float("inf")  # A's partition is unreachable, B's is not

    results = by_tenant(await check_tenants(svc))

    a = results[A]
    assert a.status is Status.ERROR
    # Says which service could not be reached and the setting that points at it.
    assert a.error == f"could not reach Table Storage at AzureWebJobsStorage__accountName: {STORAGE_DOWN}"
    # Nothing is called resolved (or compliant) when the run could not be recorded.
    assert a.diff is None and a.findings == () and a.org_actual is None
    assert a.policy == svc.desired.loads[0].policy  # its people can still be told
    assert results[B].status is Status.DRIFT
    assert [r.status for r in svc.history.of(B)] == [Status.DRIFT]
    assert "tenant %s: check failed" in [r.msg for r in caplog.records]


async def test_when_only_the_first_write_fails_the_failed_run_is_recorded():
    svc = edges(load(A))
    await check_tenants(svc)  # a drift run on record
    svc.history.fail[A] = 1  # the next write fails, the one after works

    result = (await check_tenants(svc))[0]

    assert result.status is Status.ERROR
    assert result.previous_status is Status.DRIFT  # the run before the failure, from the record
    failed = svc.history.of(A)[-1]
    assert failed.status is Status.ERROR and failed.error.endswith(
        f"Table Storage at AzureWebJobsStorage__accountName: {STORAGE_DOWN}"
    )
    assert len(svc.history.of(A)) == 2
    assert svc.history.open[A], "the open drift stays open: a failed run resolves nothing"


async def test_when_recording_the_failure_fails_too_it_is_still_could_not_check(caplog):
    svc = edges(load(A))
    await check_tenants(svc)
    svc.history.fail[A] = float("inf")

    result = (await check_tenants(svc))[0]

    assert result.status is Status.ERROR
    # Said "could not check" before: an outage must not raise a fresh alert each run.
    assert result.previous_status is Status.ERROR
    assert len(svc.history.of(A)) == 1
    assert "tenant %s: could not record the failed run either" in [r.msg for r in caplog.records]


# -- remediation raising ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "stopped"),
    [
        (RuntimeError("lock table answered nonsense"), "RuntimeError: lock table answered nonsense"),
        (ServiceRequestError("audit table unreachable"), "audit table unreachable"),
    ],
)
async def test_remediation_raising_keeps_the_check_result_with_the_stop_reason(error, stopped):
    svc = edges(load(A, Mode.REMEDIATE), load(B, Mode.REMEDIATE))
    svc.remediator.fail = error

    results = by_tenant(await check_tenants(svc))

    for tenant in (A, B):
        result = results[tenant]
        assert result.status is Status.DRIFT  # the check stands: what was found is kept
        assert [f.kind for f in result.findings] == [FindingKind.ORG_SETTING_DRIFT]
        assert result.org_actual is False
        assert result.remediation == RemediationOutcome(Mode.REMEDIATE, stopped=stopped)
        assert result.diff is not None and len(result.diff.opened) == 1
        # Recorded with the stop: nothing else of the run is lost.
        assert [(r.status, r.remediation) for r in svc.history.of(tenant)] == [
            (Status.DRIFT, result.remediation)
        ]
    assert sorted(svc.remediator.calls) == [(A, False), (B, False)]


async def test_plan_with_a_raising_remediator_reports_the_stop_and_records_nothing():
    svc = edges(load(A))
    svc.remediator.fail = RuntimeError("boom")

    result = await plan_tenant(svc.desired.loads[0], svc)

    assert result.status is Status.DRIFT
    assert result.remediation is not None and result.remediation.stopped == "RuntimeError: boom"
    assert svc.remediator.calls == [(A, True)]  # a dry run, whatever the tenant's mode
    assert svc.history.recorded == []


# -- a failed read never leads to a write ------------------------------------------------------


@pytest.mark.parametrize(
    ("exchange", "error"),
    [
        (
            MemoryExchange(
                A, fail_page=1, fail_with=ExchangeThrottledError("Get-CASMailbox: still throttled")
            ),
            "Get-CASMailbox: still throttled",
        ),
        (
            MemoryExchange(A, fail_org=ExchangePermissionError("Get-TransportConfig: access denied")),
            "Exchange Online refused access: Get-TransportConfig: access denied",
        ),
    ],
    ids=["second-page", "org-switch"],
)
async def test_a_failed_read_is_could_not_check_and_never_remediates(exchange, error):
    svc = edges(load(A, Mode.REMEDIATE), a=exchange)

    result = (await check_tenants(svc))[0]

    assert result.status is Status.ERROR and result.error == error
    assert svc.remediator.calls == []  # a partial read must never lead to a write
    assert result.findings == () and result.diff is None
    assert [(r.status, r.error) for r in svc.history.of(A)] == [(Status.ERROR, error)]


async def test_a_client_bound_to_another_tenant_is_never_used_for_this_one():
    svc = edges(load(A, Mode.REMEDIATE))
    svc.clients.exchanges[A] = MemoryExchange(B)  # A's slot holds B's client

    result = (await check_tenants(svc))[0]

    assert result.status is Status.ERROR
    assert result.error is not None and "cannot observe tenant" in result.error
    assert svc.clients.exchanges[A].reads == [] and svc.remediator.calls == []


async def test_plan_on_a_failed_read_plans_nothing():
    svc = edges(load(A), a=MemoryExchange(A, fail_org=ExchangeThrottledError("throttled")))

    result = await plan_tenant(svc.desired.loads[0], svc)

    assert result.status is Status.ERROR and result.error == "throttled"
    assert svc.remediator.calls == [] and svc.history.recorded == []


# -- malformed desired state --------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        TenantLoad(A, None, ("tenant row: Mode 'fix' is not report or remediate",)),
        TenantLoad(A, policy(A, Mode.REMEDIATE), ("exception row ex-1: Expires is not a date",)),
    ],
    ids=["tenant-row", "exception-row"],
)
async def test_malformed_desired_state_makes_no_exchange_call(bad):
    svc = edges(bad)

    result = (await check_tenants(svc))[0]

    assert result.status is Status.ERROR
    assert result.error == "desired state is malformed: " + bad.errors[0]
    assert svc.clients.used == [] and svc.clients.exchanges[A].reads == []
    assert svc.remediator.calls == []
    assert [(r.status, r.error) for r in svc.history.of(A)] == [(Status.ERROR, result.error)]

    planned = await plan_tenant(bad, svc)
    assert planned.status is Status.ERROR and svc.clients.used == [] and svc.remediator.calls == []


# -- one tenant raising --------------------------------------------------------------------------


async def test_one_tenant_raising_does_not_stop_the_others(caplog):
    broken = MemoryExchange(B, fail_org=KeyError("SmtpClientAuthenticationDisabled"))
    svc = edges(load(A), load(B), load(C), b=broken)

    results = await check_tenants(svc, parallel=1)

    assert [r.tenant_id for r in results] == [A, B, C]
    assert [r.status for r in results] == [Status.DRIFT, Status.ERROR, Status.DRIFT]
    assert results[1].error == "KeyError: 'SmtpClientAuthenticationDisabled'"
    assert [r.status for r in svc.history.of(B)] == [Status.ERROR]  # the failure is on record
    assert "tenant %s: check failed" in [r.msg for r in caplog.records]


async def test_disabled_tenants_are_skipped_unless_asked_for():
    svc = edges(load(A), load(B, enabled=False))

    assert [r.tenant_id for r in await check_tenants(svc)] == [A]
    assert [r.tenant_id for r in await check_tenants(svc, B)] == [B]


# -- the cycle: the follow-up (queue) failing -----------------------------------------------------


async def test_a_failing_queue_step_is_logged_and_the_cycle_goes_on(caplog):
    svc = edges(load(A), load(B), load(C))
    svc.notifier.fail_for = {B}
    svc.settings = Settings(storage=StorageSettings(), max_parallel_tenants=1)

    cycle = await run_cycle(svc)

    assert [r.tenant_id for r in cycle.results] == [A, B, C]
    assert all(r.status is Status.DRIFT for r in cycle.results)  # B's result stands
    assert len(svc.history.of(B)) == 1  # and is recorded, once
    assert [r.tenant_id for r in svc.notifier.queued] == [A, C]
    assert cycle.queued == 2
    # B's failed queueing does not keep its check from the health view.
    assert [r.tenant_id for r in svc.health.checked_results] == [A, B, C]
    assert svc.notifier.delivered == [[A, B, C]]  # B's earlier messages are still sent
    assert "tenant %s: follow-up after the check failed" in [r.msg for r in caplog.records]


async def test_each_tenant_is_queued_with_its_recorded_result_and_delivery_can_wait():
    svc = edges(load(A), load(B, Mode.REMEDIATE))
    svc.history.fail[B] = float("inf")

    cycle = await run_cycle(svc, deliver=False)

    queued = by_tenant(svc.notifier.queued)
    change = queued[A].diff
    assert change is not None and len(change.opened) == 1
    assert queued[B].status is Status.ERROR and queued[B].diff is None
    assert queued[B].previous_status is Status.ERROR
    assert cycle.delivery is None and svc.notifier.delivered == []
