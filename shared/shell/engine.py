"""check_tenant(): one tenant, desired -> observed -> findings -> history.

shared.shell.cycle runs check_tenants() for the timer, the CLI, the demo and the
tests alike; what they run is what runs in Azure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from azure.core.exceptions import AzureError

from shared.adapters.exchange_errors import (
    ExchangePermissionError,
    ExchangeTokenError,
    ExchangeTokenRefusedError,
)
from shared.core.fixed import after_remediation
from shared.core.grant_delay import http_status, with_grant_delay
from shared.core.limits import PARALLEL_TENANTS
from shared.core.model import (
    CheckResult,
    Finding,
    MailboxSetting,
    Mode,
    Observation,
    Recipients,
    RemediationOutcome,
    Status,
    TenantLoad,
    TenantPolicy,
)
from shared.core.policy import ExceptionIndex, evaluate, needs_usage_evidence, status_of
from shared.notify.text import MAX_NOTE, one_line
from shared.shell.ports import ExchangeReader, Services, TenantReaders
from shared.shell.unreachable import EXCHANGE, TABLES, describe, is_connection_error
from shared.store.tables import forget_tables, is_missing_table

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]


async def observe(
    exchange: ExchangeReader, policy: TenantPolicy, progress: Progress | None = None
) -> Observation:
    """Read the org switch and every mailbox, keeping only what the rules need.

    Raises on any failed page: a partial list must never be evaluated, or missing
    mailboxes would look like resolved drift."""
    tenant = policy.tenant_id
    if exchange.tenant_id.lower() != tenant.lower():
        # Another tenant's mailboxes judged by this policy would be remediated wrongly.
        raise ValueError(f"the Exchange client of tenant {exchange.tenant_id} cannot observe tenant {tenant}")
    org = await exchange.org_smtp_auth_disabled()
    basic_auth = await exchange.basic_auth_policy()  # never raises: unknown on failure
    index = ExceptionIndex(policy.exceptions)
    kept: list[MailboxSetting] = []
    scanned = 0

    def on_page(seen: int) -> None:
        nonlocal scanned
        scanned = seen  # every mailbox read, kept or not
        if progress:
            progress(tenant, seen)

    # Filtered as pages arrive, before objects are built: the hot path of a large tenant.
    async for page in exchange.cas_mailbox_pages(on_page, keep=index.is_relevant):
        kept.extend(page)
    return Observation(tenant, org, scanned, tuple(kept), basic_auth)


def _error_result(
    tenant_id: str,
    now: datetime,
    message: str,
    policy: TenantPolicy | None,
    recipients: Recipients | None = None,
) -> CheckResult:
    return CheckResult(
        tenant_id=tenant_id,
        checked_at=now,
        status=Status.ERROR,
        org_desired=policy.desired_org_disabled if policy else None,
        error=message,
        policy=policy,
        recipients=recipients,
    )


def _malformed(load: TenantLoad, now: datetime) -> CheckResult:
    # The recipients that parsed go with it: the people a broken row names hear of it.
    return _error_result(
        load.tenant_id,
        now,
        "desired state is malformed: " + "; ".join(load.errors),
        load.policy,
        load.recipients,
    )


def _checked(
    policy: TenantPolicy,
    observed: Observation,
    findings: tuple[Finding, ...],
    now: datetime,
    remediation: RemediationOutcome | None,
) -> CheckResult:
    # What the run fixed and read back is reported as fixed: the status, the history
    # and every message follow what is still open.
    after = after_remediation(findings, remediation, observed.org_smtp_auth_disabled)
    return CheckResult(
        tenant_id=policy.tenant_id,
        checked_at=now,
        status=status_of(after.open),
        org_desired=policy.desired_org_disabled,
        org_actual=after.org_actual,
        mailboxes_scanned=observed.mailboxes_scanned,
        findings=after.open,
        fixed=after.fixed,
        policy=policy,
        remediation=remediation,
        basic_auth=observed.basic_auth,
        unsettled=remediation.unsettled if remediation else (),
    )


async def check_tenant(load: TenantLoad, services: Services, progress: Progress | None = None) -> CheckResult:
    now = services.clock()
    policy = load.policy
    if not load.ok or policy is None:
        result = _malformed(load, now)
    else:
        # Held for the whole check: remediation uses the same tenant's clients.
        async with services.clients.use(policy.tenant_id, app_id=policy.app_id) as client:
            try:
                observed = await observe(client.exchange, policy, progress)
            except AzureError as exc:
                result = _error_result(load.tenant_id, now, _describe(exc, EXCHANGE), policy)
            else:
                findings = await _evaluate(services, client, policy, observed, now)
                remediation = None
                if policy.mode is Mode.REMEDIATE:
                    remediation = await _remediate(services, policy, observed, findings, now)
                result = _checked(policy, observed, findings, now, remediation)
    recorded = await services.history.record(result)
    _log(result)
    return replace(
        result,
        diff=recorded.diff,
        previous_status=recorded.previous_status,
        previous_run=recorded.previous_run,
    )


async def _evaluate(
    services: Services, client: TenantReaders, policy: TenantPolicy, observed: Observation, now: datetime
) -> tuple[Finding, ...]:
    """The rules, with the sign-in evidence when an approved exception needs judging
    (remediation's read in the same run is answered from the reader's memory). Logs
    that cannot be read keep the findings they would decide as they were."""
    evidence = None
    previous: list[Finding] = []
    if needs_usage_evidence(policy, observed, now):
        evidence = await client.evidence.read(now, policy.evidence_days)
        if not evidence.available:
            previous = [o.finding for o in (await services.history.open_findings(policy.tenant_id)).values()]
    return evaluate(policy, observed, now, evidence, previous)


async def _remediate(
    services: Services,
    policy: TenantPolicy,
    observed: Observation,
    findings: tuple[Finding, ...],
    now: datetime,
    *,
    dry_run: bool = False,
) -> RemediationOutcome | None:
    """Remediation never costs the check its result: a storage failure (lock, audit)
    is reported as the outcome's ``stopped``, and nothing after it is written."""
    try:
        return await services.remediator.run(policy, observed, findings, now, dry_run=dry_run)
    except Exception as exc:  # an unexpected answer must not cost the check its record
        log.exception("tenant %s: remediation stopped", _shown(policy.tenant_id))
        why = _describe(exc) if isinstance(exc, AzureError) else f"{type(exc).__name__}: {exc}"
        if is_missing_table(exc):  # the lock's or the audit trail's table
            why = _table_deleted(why)
        return RemediationOutcome(policy.mode, stopped=why)


async def plan_tenant(load: TenantLoad, services: Services) -> CheckResult:
    """What remediation would do now, whatever the tenant's mode; changes nothing
    anywhere: no history, no audit row, no lock, nothing in Exchange."""
    now = services.clock()
    policy = load.policy
    if not load.ok or policy is None:
        return _malformed(load, now)
    async with services.clients.use(policy.tenant_id, app_id=policy.app_id) as client:
        try:
            observed = await observe(client.exchange, policy)
        except AzureError as exc:
            return _error_result(load.tenant_id, now, _describe(exc, EXCHANGE), policy)
        findings = await _evaluate(services, client, policy, observed, now)
        remediation = await _remediate(services, policy, observed, findings, now, dry_run=True)
    return _checked(policy, observed, findings, now, remediation)


def _describe(exc: AzureError, service: str | None = None) -> str:
    # azure-core errors carry the service text; never the request headers.
    if service and is_connection_error(exc):
        return describe(service, exc)
    text = str(exc.message if getattr(exc, "message", None) else exc).strip()
    text = with_grant_delay(text, http_status(exc))  # 401/403: a new grant may lag
    if isinstance(exc, ExchangeTokenError):
        # The identity gave no token: nothing reached Exchange.
        return f"could not get a token for Exchange Online from the identity: {text}"
    if isinstance(exc, ExchangeTokenRefusedError):
        # A new token was got and sent, and refused too: not a missing role.
        return f"Exchange Online refused a fresh token: {text}"
    if isinstance(exc, ExchangePermissionError):
        # A token was sent and Exchange said no: a missing app role or Exchange role.
        return f"Exchange Online refused access: {text}"
    return text


def _shown(tenant: str) -> str:
    # A tenant id is a row's PartitionKey: whoever wrote the row chose it. One line, no
    # control or bidi characters, clipped: a log line must not forge another.
    return one_line(tenant, 120)


def _log(result: CheckResult) -> None:
    if result.status is Status.ERROR:
        log.error(
            "tenant %s could not be checked: %s", _shown(result.tenant_id), one_line(result.error, MAX_NOTE)
        )
    elif result.status is Status.DRIFT:
        log.warning(
            "tenant %s: drift, %d finding(s) in %d mailboxes",
            _shown(result.tenant_id),
            len(result.findings),
            result.mailboxes_scanned,
        )
    else:
        log.info("tenant %s: compliant (%d mailboxes)", _shown(result.tenant_id), result.mailboxes_scanned)


async def check_tenants(
    services: Services,
    tenant: str | None = None,
    *,
    parallel: int = PARALLEL_TENANTS.default,
    progress: Progress | None = None,
    after_each: Callable[[CheckResult], Awaitable[object]] | None = None,
    only_enabled: bool = False,
) -> list[CheckResult]:
    """Check every enabled tenant (or one, enabled or not unless ``only_enabled``), a
    few at a time; one failing tenant never stops the others. ``after_each`` runs for
    each tenant right after its run is recorded (the notifier queues there, so a run
    that dies later cannot lose what an earlier tenant's run recorded but had not yet told)."""
    loads = [
        load for load in await services.desired.load(tenant) if (tenant and not only_enabled) or load.enabled
    ]
    gate = asyncio.Semaphore(parallel)

    async def one(load: TenantLoad) -> CheckResult:
        async with gate:
            try:
                result = await check_tenant(load, services, progress)
            except Exception as exc:  # e.g. history storage down: report, go on
                log.exception("tenant %s: check failed", _shown(load.tenant_id))
                why = f"{type(exc).__name__}: {exc}"
                if is_connection_error(exc):  # Exchange's are answered above: this is storage's
                    why = describe(TABLES.format(setting=services.settings.storage.setting), exc)
                elif is_missing_table(exc):
                    why = _table_deleted(why)
                # The result keeps the policy, so the failure can still be told to its people.
                failed = _error_result(
                    load.tenant_id, services.clock(), one_line(why, MAX_NOTE), load.policy, load.recipients
                )
                result = replace(failed, previous_status=await _record_failure(services, failed))
            if after_each is not None:
                try:
                    await after_each(result)
                except Exception:
                    log.exception("tenant %s: follow-up after the check failed", _shown(load.tenant_id))
            return result

    return list(await asyncio.gather(*(one(load) for load in loads)))


def _table_deleted(why: str) -> str:
    # The tables' response hook forgets on a plain 404; a transaction's answer says it
    # only inside (TableTransactionError), so the caller that reads it forgets too.
    forget_tables()
    return f"a table of the app was deleted while it runs; it is created again next run ({why})"


async def _record_failure(services: Services, failed: CheckResult) -> Status | None:
    """Record a run that failed unexpectedly, and return the status before it. If even
    that fails (storage down), say "could not check": an outage must not turn into a
    fresh "could not check" alert on every run."""
    try:
        previous = (await services.history.record(failed)).previous_status
    except Exception:
        log.exception("tenant %s: could not record the failed run either", _shown(failed.tenant_id))
        return Status.ERROR
    return previous
