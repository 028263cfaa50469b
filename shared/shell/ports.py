"""The engine's edges, as small Protocols.

The engine (shared.shell.engine) and the cycle (shared.shell.cycle) depend on these,
not on the concrete classes. The classes satisfy them structurally, with no base
class to inherit: the Runtime (shared.shell.runtime) holds the real ones, and mypy
checks that it fits wherever it is passed to check_tenants(), plan_tenant() or
run_cycle(). Small in-memory fakes of these ports drive the engine's failure branches
in fast unit tests (tests/unit/test_engine_branches.py); the Azurite and simulator
tests remain the proof of the real adapters.

A port names only what the engine calls: the concrete classes do more (the CLI and
the remediator use the rest). HistoryReader, what the notifier reads of the history,
is defined beside HistoryStore (the notifier must not import the shell) and
re-exported here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from shared.core.basic_auth import BasicAuthPolicy
from shared.core.model import (
    CheckResult,
    Evidence,
    Finding,
    MailboxSetting,
    Observation,
    RemediationOutcome,
    TenantLoad,
    TenantPolicy,
)
from shared.notify.dispatch import Delivery
from shared.shell.settings import Settings
from shared.store.runs import HistoryReader, Recorded

__all__ = [
    "CycleServices",
    "DesiredSource",
    "EvidenceSource",
    "ExchangeReader",
    "HistoryReader",
    "HistoryRecorder",
    "NotificationQueue",
    "Remediation",
    "Services",
    "TenantClientsPort",
    "TenantReaders",
]


class DesiredSource(Protocol):
    """Desired state, validated (shared.store.DesiredStateStore)."""

    async def load(self, tenant: str | None = None) -> list[TenantLoad]: ...


class ExchangeReader(Protocol):
    """One tenant's Exchange Online reads (shared.adapters.smtp_auth.SmtpAuthClient)."""

    @property
    def tenant_id(self) -> str: ...

    async def org_smtp_auth_disabled(self) -> bool: ...

    async def basic_auth_policy(self) -> BasicAuthPolicy: ...

    def cas_mailbox_pages(
        self,
        on_progress: Callable[[int], None] | None = None,
        *,
        keep: Callable[[str, str, bool | None], bool] | None = None,
    ) -> AsyncIterator[list[MailboxSetting]]: ...


class EvidenceSource(Protocol):
    """One tenant's sign-in evidence (shared.adapters.signins.EvidenceReader)."""

    async def read(self, now: datetime, days: int) -> Evidence: ...


class TenantReaders(Protocol):
    """One tenant's clients as the engine uses them (shared.adapters.tenant_clients.TenantClient)."""

    @property
    def exchange(self) -> ExchangeReader: ...
    @property
    def evidence(self) -> EvidenceSource: ...


class TenantClientsPort(Protocol):
    """Each tenant's clients, held for a piece of work (shared.adapters.tenant_clients.TenantClients)."""

    def use(self, tenant_id: str, *, app_id: str | None = None) -> AbstractAsyncContextManager[TenantReaders]:
        """``app_id``: the tenant row's own multi-tenant app, if it names one."""
        ...


class HistoryRecorder(HistoryReader, Protocol):
    """The run history (shared.store.HistoryStore): record a run, diffed with the last."""

    async def record(self, result: CheckResult) -> Recorded: ...


class Remediation(Protocol):
    """Plan and apply the fixes of one tenant (shared.shell.remediator.Remediator)."""

    async def run(
        self,
        policy: TenantPolicy,
        observed: Observation,
        findings: Sequence[Finding],
        now: datetime,
        *,
        dry_run: bool = False,
    ) -> RemediationOutcome | None: ...


class NotificationQueue(Protocol):
    """The notifier's two steps (shared.notify.dispatch.Notifier): queue what runs
    have to tell, then deliver what is due."""

    async def queue_results(self, results: Sequence[CheckResult], history: HistoryReader) -> int: ...

    async def deliver(self, tenants: Iterable[str]) -> Delivery: ...


class HealthRecorder(Protocol):
    """Where each tenant's last check is kept for the health view and the overdue rule
    (shared.store.health.HealthStore)."""

    async def checked(self, result: CheckResult, open_findings: int | None) -> None: ...


class Services(Protocol):
    """The edges a check talks to (read-only here): a shared.shell.runtime.Runtime."""

    @property
    def clients(self) -> TenantClientsPort: ...
    @property
    def desired(self) -> DesiredSource: ...
    @property
    def history(self) -> HistoryRecorder: ...
    @property
    def remediator(self) -> Remediation: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...
    @property
    def settings(self) -> Settings: ...


class CycleServices(Services, Protocol):
    """A check's edges plus the notifier and the health store: what run_cycle() needs."""

    @property
    def notifier(self) -> NotificationQueue: ...
    @property
    def health(self) -> HealthRecorder: ...
