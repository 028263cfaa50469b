"""Credentials: the managed identity, never a secret.

Inside Azure Functions (and with the simulator) ``IDENTITY_ENDPOINT`` and
``IDENTITY_HEADER`` are set and ``ManagedIdentityCredential`` uses them;
``AZURE_CLIENT_ID`` picks a user-assigned identity. On an admin's workstation
without them, the CLI falls back to the developer credentials of
``DefaultAzureCredential`` (Azure CLI, azd, PowerShell), with the managed identity
probe turned off so nothing waits on an instance metadata endpoint that is not there.

Every client bound to a tenant (Exchange, the sign-in evidence reader) gets its
credential from one call, ``TenantCredentials.for_tenant(tenant_id)``: the managed
identity for its home tenant, and for a customer tenant the multi-tenant app that
trusts the identity as a federated credential (docs/tenants.md).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError

from shared.core.limits import DEFAULT_TOKEN_EXCHANGE_AUDIENCE
from shared.core.validation import ValidationError, check_endpoint_url

# The App Service / Functions identity endpoint is on the instance itself: it answers
# within a second or not at all. azure-identity's defaults (10 tries, a 300 s read
# timeout) and the Exchange pipeline retrying the failure again made a dead endpoint
# cost 25 to 40 s before anyone heard; with these it is about 10 s at worst (4
# connects of 2 s, or 2 reads of 5 s, plus backoff), 2.5 s for a closed port.
IDENTITY_PIPELINE: dict[str, Any] = {
    "connection_timeout": 2,
    "read_timeout": 5,
    "retry_total": 3,
    "retry_read": 1,
    "retry_backoff_factor": 0.4,
}


class IdentitySettingError(ValueError):
    """IDENTITY_ENDPOINT / IDENTITY_HEADER are set in a way no credential can use."""


class IdentityUnreachableError(ClientAuthenticationError):
    """The managed identity endpoint did not answer: no token, nothing was sent.

    A ClientAuthenticationError, so the callers' pipelines do not retry it again (the
    identity's own pipeline already did) and the Exchange client reports it as the
    identity's failure, not Exchange's."""


def check_identity_env(env: Mapping[str, str] | None = None) -> None:
    """Refuse what would otherwise fail later and obscurely: IDENTITY_ENDPOINT over plain
    http to another machine (the token would travel in clear), or IDENTITY_ENDPOINT
    without IDENTITY_HEADER (azure-identity would silently try other credentials; Azure
    Arc, which sets IMDS_ENDPOINT instead, is the one platform that does that on purpose)."""
    env = os.environ if env is None else env
    endpoint = (env.get("IDENTITY_ENDPOINT") or "").strip()
    if not endpoint:
        return
    try:
        check_endpoint_url(endpoint)
    except ValidationError as exc:
        raise IdentitySettingError(f"IDENTITY_ENDPOINT {exc}") from None
    if not (env.get("IDENTITY_HEADER") or "").strip() and not (env.get("IMDS_ENDPOINT") or "").strip():
        raise IdentitySettingError(
            "IDENTITY_ENDPOINT is set but IDENTITY_HEADER is not: set both (the managed identity "
            "of App Service / Functions, or the simulator) or neither (the CLI then uses your "
            "Azure CLI, azd or PowerShell sign-in)"
        )


def has_managed_identity_endpoint(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return bool(env.get("IDENTITY_ENDPOINT") and env.get("IDENTITY_HEADER"))


def managed_identity(client_id: str | None) -> AsyncTokenCredential:
    from azure.identity.aio import ManagedIdentityCredential

    check_identity_env()
    if not has_managed_identity_endpoint():
        # IMDS (a VM) or Azure Arc: azure-identity's own retry follows their guidance.
        return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
    return _IdentityEndpoint(ManagedIdentityCredential(client_id=client_id or None, **IDENTITY_PIPELINE))


def workstation_credential(client_id: str | None) -> AsyncTokenCredential:
    """The CLI's credential: the managed identity where one is configured."""
    check_identity_env()
    if has_managed_identity_endpoint():
        return managed_identity(client_id)
    from azure.identity.aio import DefaultAzureCredential

    return DefaultAzureCredential(exclude_managed_identity_credential=True)


class _IdentityEndpoint:
    """The App Service managed identity, its connection failures said as such."""

    def __init__(self, credential: Any) -> None:
        self._credential = credential

    async def get_token(
        self, *scopes: str, claims: str | None = None, tenant_id: str | None = None, **kwargs: Any
    ) -> AccessToken:
        try:
            token: AccessToken = await self._credential.get_token(
                *scopes, claims=claims, tenant_id=tenant_id, **kwargs
            )
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise _unreachable(exc) from exc
        return token

    async def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        try:
            token: AccessTokenInfo = await self._credential.get_token_info(*scopes, options=options)
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise _unreachable(exc) from exc
        return token

    async def close(self) -> None:
        await self._credential.close()

    async def __aenter__(self) -> Self:
        await self._credential.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self._credential.__aexit__(exc_type, exc_value, traceback)


def _unreachable(exc: Exception) -> IdentityUnreachableError:
    # The endpoint is a loopback URL of the platform, never a secret; the header is.
    endpoint = os.environ.get("IDENTITY_ENDPOINT", "")
    text = str(getattr(exc, "message", None) or exc).strip()
    return IdentityUnreachableError(
        message=f"could not reach the managed identity endpoint at IDENTITY_ENDPOINT ({endpoint}): {text}"
    )


@dataclass(frozen=True)
class Federation:
    """How customer tenants are reached: the multi-tenant app registered in the home
    tenant, whose federated identity credential trusts the user-assigned managed
    identity. The identity's token for ``audience`` is the app's client assertion
    in every customer tenant; no secret, certificate or refresh token exists.

    ``home_tenant`` (as the desired-state rows name it) is read with the identity
    itself. ``app_id`` is the default app; a tenant row may name another one.
    """

    home_tenant: str | None = None
    app_id: str | None = None
    identity_client_id: str | None = None  # the user-assigned identity (AZURE_CLIENT_ID)
    audience: str = DEFAULT_TOKEN_EXCHANGE_AUDIENCE
    authority: str | None = None  # the Entra host; None = azure-identity's default

    def is_home(self, tenant_id: str) -> bool:
        return self.home_tenant is not None and tenant_id.lower() == self.home_tenant.lower()


class _Closable(Protocol):
    def close(self) -> None: ...


class IdentityAssertion:
    """The managed identity's token for the token exchange audience, as the client
    assertion of the multi-tenant app.

    azure-identity 1.27's aio ``ClientAssertionCredential`` calls its assertion
    function synchronously (it does not await it), so this uses the sync
    ``ManagedIdentityCredential``, built once and shared by every customer tenant:
    the assertion names the home tenant and the identity, never a customer tenant,
    and the credential caches it until it nears expiry. A lock keeps two tenants'
    first token requests from asking the identity endpoint twice at once.
    """

    def __init__(self, client_id: str | None, audience: str = DEFAULT_TOKEN_EXCHANGE_AUDIENCE) -> None:
        self._client_id = client_id
        self._scope = audience.rstrip("/") + "/.default"
        self._credential: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._credential is None:
                if not has_managed_identity_endpoint():
                    # A developer sign-in cannot stand in: the app trusts the identity only.
                    raise ClientAuthenticationError(
                        "a customer tenant is reached through the managed identity's federated "
                        "credential, and no managed identity endpoint is here (IDENTITY_ENDPOINT); "
                        "run this where the function app's identity is"
                    )
                from azure.identity import ManagedIdentityCredential

                # The same short pipeline as the async identity: a dead endpoint is told fast.
                if self._client_id:
                    self._credential = ManagedIdentityCredential(
                        client_id=self._client_id, **IDENTITY_PIPELINE
                    )
                else:
                    self._credential = ManagedIdentityCredential(**IDENTITY_PIPELINE)
            credential = self._credential
        try:
            return str(credential.get_token(self._scope).token)
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise _unreachable(exc) from exc

    def close(self) -> None:
        with self._lock:
            credential: _Closable | None = self._credential
            self._credential = None
        if credential is not None:
            credential.close()


class TenantCredentials:
    """The credential each monitored tenant is reached with.

    The home tenant (and every tenant when no multi-tenant app is configured, as in
    a single-tenant deployment) gets the one identity the app runs as: the managed
    identity, or from the CLI the developer sign-in. Any other tenant gets a
    ``ClientAssertionCredential`` for that tenant and its app, whose assertion is the
    managed identity's token for the exchange audience. One credential per tenant and
    app, kept: its cache holds that tenant's tokens only, so a token of one tenant can
    never be sent to another.

    Closing it closes the tenants' credentials, and the identity only when this object
    was told it owns it.
    """

    def __init__(
        self,
        identity: AsyncTokenCredential,
        *,
        owns_identity: bool = False,
        federation: Federation | None = None,
        assertion: Callable[[], str] | None = None,
        **credential_options: Any,
    ) -> None:
        """``credential_options`` go to each customer tenant's credential (e.g.
        ``connection_verify=`` a CA bundle, in tests against the simulator)."""
        self._identity = identity
        self._owns_identity = owns_identity
        self._federation = federation or Federation()
        self._assertion = assertion or IdentityAssertion(
            self._federation.identity_client_id, self._federation.audience
        )
        self._options = credential_options
        self._tenants: dict[tuple[str, str], AsyncTokenCredential] = {}

    def app_for(self, tenant_id: str, app_id: str | None = None) -> str | None:
        """The app ``tenant_id`` is reached through; None: the identity itself."""
        if self._federation.is_home(tenant_id):
            return None
        return app_id or self._federation.app_id or None

    def for_tenant(self, tenant_id: str, app_id: str | None = None) -> AsyncTokenCredential:
        """The credential for ``tenant_id``'s Exchange Online and Microsoft Graph;
        ``app_id``: the tenant row's own app, if it names one."""
        app = self.app_for(tenant_id, app_id)
        if app is None:
            return self._identity
        key = (tenant_id.lower(), app.lower())
        credential = self._tenants.get(key)
        if credential is None:
            from azure.identity.aio import ClientAssertionCredential

            options = dict(self._options)
            ca_file = os.environ.get("SSL_CERT_FILE")
            if ca_file and "connection_verify" not in options:
                # The standard CA bundle variable, honoured when the credential is made:
                # aiohttp reads it once, at import, which may be before it was set.
                options["connection_verify"] = ca_file
            if self._federation.authority:
                options["authority"] = self._federation.authority
            credential = ClientAssertionCredential(tenant_id, app, self._assertion, **options)
            self._tenants[key] = credential
        return credential

    async def close(self) -> None:
        credentials = list(self._tenants.values())
        self._tenants.clear()
        try:
            for credential in credentials:
                await credential.close()
        finally:
            close = getattr(self._assertion, "close", None)
            if callable(close):
                close()
            if self._owns_identity:
                await self._identity.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
