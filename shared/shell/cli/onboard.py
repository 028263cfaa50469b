"""``tenant onboard`` and ``tenant verify``: a customer tenant as admins bring it in.

``onboard`` prints what the customer's admin does (the consent link, the directory
role, the Graph permissions) and adds the tenant row exactly as ``tenant add`` does.
``verify`` asks for a token in the tenant, runs ``Get-TransportConfig`` and reads the
sign-in logs, and says which grant is missing (shared.core.grants decides): exit 0
every grant is there, 1 one is missing, 2 could not tell."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import AzureError

from shared.adapters.credentials import IdentityUnreachableError
from shared.adapters.exchange_errors import ExchangeTokenError
from shared.adapters.exchange_transport import EXCHANGE_SCOPE
from shared.adapters.tenant_clients import TenantClients
from shared.core.commands import admin_consent_url, tenant_onboard, tenant_verify
from shared.core.grant_delay import http_status
from shared.core.grants import Outcome, Reach, Seen, Verdict, exit_code, onboarding_steps, verdicts
from shared.core.model import EvidencePolicy, Mode, TenantPolicy
from shared.core.validation import check_app_id
from shared.shell.cli.args import ROWS, UsageError, arg, tenant_guid_arg, tenant_option
from shared.shell.cli.resolve import resolve_tenant
from shared.shell.cli.session import cli_runtime
from shared.shell.cli.terminal import say
from shared.shell.settings import Settings
from shared.shell.unreachable import is_connection_error
from shared.store import DesiredStateStore
from shared.store.rows import RowError, parse_tenant_row

# tenant.py's own pieces, so onboard takes exactly tenant add's options and write.
PolicyOptions = Callable[..., None]
AddTenant = Callable[[DesiredStateStore, argparse.Namespace], Coroutine[Any, Any, None]]

# Onboard reads the rows' settings and the app's; nothing it does reaches a tenant.
ONBOARD = ROWS | {"SMTPAUTH_MULTITENANT_APP_ID", "SMTPAUTH_TOKEN_EXCHANGE_AUDIENCE"}
LABELS = {
    Outcome.OK: "ok",
    Outcome.MISSING: "MISSING",
    Outcome.UNKNOWN: "could not tell",
    Outcome.SKIPPED: "-",
}
_TEXT_LIMIT = 2000  # a verdict names the grant, the fix and the service's own words


def register(
    actions: argparse._SubParsersAction[argparse.ArgumentParser],
    policy_options: PolicyOptions,
    add: AddTenant,
) -> None:
    onboard = actions.add_parser(
        "onboard",
        help="a customer tenant: print its admin's consent link, role and permissions, then add it",
    )
    onboard.add_argument("--tenant", type=tenant_guid_arg, required=True, help="tenant GUID (directory id)")
    onboard.add_argument(
        "--app-id",
        type=arg(check_app_id),
        help="the multi-tenant app for this tenant, if not SMTPAUTH_MULTITENANT_APP_ID (kept in the row)",
    )
    policy_options(onboard, creating=True)
    onboard.set_defaults(needs=ONBOARD.__contains__, run=lambda s, a: _onboard(s, a, add))
    verify = actions.add_parser("verify", help="check a tenant's consent, Exchange role and sign-in evidence")
    tenant_option(verify)
    verify.set_defaults(run=_verify)


def _app(settings: Settings, tenant: str, row_app: str | None) -> str | None:
    """The app ``tenant`` is reached through (as TenantCredentials.app_for); None:
    the managed identity itself."""
    if settings.home_tenant and tenant.lower() == settings.home_tenant.lower():
        return None
    return row_app or settings.multitenant_app_id


def _reach(settings: Settings, policy: TenantPolicy, app: str | None) -> Reach:
    consent = admin_consent_url(policy.tenant_id, app, settings.token_exchange_audience) if app else None
    return Reach(policy.tenant_id, app, policy.mode, consent, policy.when_evidence_unavailable)


async def _onboard(settings: Settings, args: argparse.Namespace, add: AddTenant) -> int:
    tenant = args.tenant
    home = bool(settings.home_tenant) and tenant == str(settings.home_tenant).lower()
    if home and args.app_id:
        raise UsageError(
            f"--app-id: tenant {tenant} is the home tenant (SMTPAUTH_HOME_TENANT), read with the "
            "managed identity itself, never through an app; nothing was written"
        )
    app = _app(settings, tenant, args.app_id)
    if not home and app is None:
        raise UsageError(
            f"tenant {tenant} is not the home tenant, and a customer tenant is read through the "
            "multi-tenant app: set SMTPAUTH_MULTITENANT_APP_ID (docs/tenants.md) or give --app-id; "
            "nothing was written"
        )
    if app and not (settings.client_id and settings.home_tenant):
        raise UsageError(
            "a customer tenant is reached through the user-assigned managed identity's federated "
            "credential: set AZURE_CLIENT_ID and SMTPAUTH_HOME_TENANT (docs/tenants.md); nothing was written"
        )
    policy = TenantPolicy(
        tenant,
        args.domain,
        mode=Mode(args.mode),
        when_evidence_unavailable=EvidencePolicy(args.when_evidence_unavailable),
    )
    print(f"tenant {tenant} ({say(args.domain)})")
    for step in onboarding_steps(_reach(settings, policy, app), home=home):
        print(step)
    print(f"Then check the grants: {tenant_verify(tenant)}")
    print()
    async with cli_runtime(settings) as services:
        await add(services.desired, args)
    return 0


async def _verify(settings: Settings, args: argparse.Namespace) -> int:
    async with cli_runtime(settings) as services:
        tenant = await resolve_tenant(services.desired, args.tenant)
        entity = await services.desired.tenant_row(tenant)
        if entity is None:
            policy = TenantPolicy(tenant, "")
            print(f"note: tenant {tenant} has no tenant row yet (add it with {tenant_onboard(tenant)})")
        else:
            try:
                policy = parse_tenant_row(entity)
            except RowError as exc:
                raise UsageError(
                    f"tenant {tenant}: its tenant row does not read, so which app reaches it is not "
                    f"known: {exc}; nothing was checked"
                ) from None
        app = _app(settings, tenant, policy.app_id)
        reach = _reach(settings, policy, app)
        found = await _probe(services.clients, reach, policy.app_id)
    how = f"through the app {app}" if app else "with the managed identity"
    domain = f" ({say(policy.initial_domain)})" if policy.initial_domain else ""
    print(f"tenant {tenant}{domain}, {policy.mode} mode, {how}")
    for verdict in found:
        print(f"  {verdict.check}: {LABELS[verdict.outcome]}: {say(verdict.text, limit=_TEXT_LIMIT)}")
    code = exit_code(found)
    missing = [v.check for v in found if v.outcome is Outcome.MISSING]
    if code == 0:
        print("every grant is in place")
    elif missing:
        print(f"missing: {', '.join(missing)}")
    else:
        print("could not tell whether every grant is in place (see above); run it again")
    return code


async def _probe(clients: TenantClients, reach: Reach, row_app: str | None) -> tuple[Verdict, ...]:
    """The three calls, through the clients every check uses (the tenant's own
    credential from TenantCredentials.for_tenant, so the token is the one checks get)."""
    tenant = reach.tenant_id
    token = await _token(clients, tenant, row_app)
    if not token.ok:
        return verdicts(reach, token, None, None)
    async with clients.use(tenant, app_id=row_app) as client:
        try:
            await client.exchange.org_smtp_auth_disabled()
            exchange = Seen(ok=True)
        except AzureError as exc:
            exchange = _seen(exc)
        evidence = await client.evidence.read(datetime.now(UTC), 1)
    return verdicts(
        reach,
        token,
        exchange,
        Seen(ok=evidence.available, status=evidence.status, code=evidence.code, text=evidence.problem),
    )


async def _token(clients: TenantClients, tenant: str, row_app: str | None) -> Seen:
    try:
        await clients.credentials.for_tenant(tenant, row_app).get_token(EXCHANGE_SCOPE)
    except AzureError as exc:
        return _seen(exc)
    return Seen(ok=True)


def _seen(exc: AzureError) -> Seen:
    text = str(getattr(exc, "message", None) or exc).strip() or type(exc).__name__
    cause = exc.__cause__ if isinstance(exc, ExchangeTokenError) else exc
    unanswered = is_connection_error(exc) or isinstance(cause, IdentityUnreachableError)
    # A refusal's status is Exchange's (401/403); a token error never reached Exchange.
    status = None if isinstance(exc, ExchangeTokenError) else http_status(exc)
    return Seen(status=status, text=text, answered=not unanswered)
