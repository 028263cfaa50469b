"""Credentials: the managed identity, never a secret.

Inside Azure Functions (and with the simulator) ``IDENTITY_ENDPOINT`` and
``IDENTITY_HEADER`` are set and ``ManagedIdentityCredential`` uses them;
``AZURE_CLIENT_ID`` picks a user-assigned identity. On an admin's workstation
without them, the CLI falls back to the developer credentials of
``DefaultAzureCredential`` (Azure CLI, azd, PowerShell), with the managed identity
probe turned off so nothing waits on an instance metadata endpoint that is not there.

Every client bound to a tenant (Exchange, the sign-in evidence reader) gets its
credential from one call, ``TenantCredentials.for_tenant(tenant_id)``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError

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


class TenantCredentials:
    """The credential each monitored tenant is reached with.

    Today that is the one identity the app runs as, for every tenant: the managed
    identity (or, from the CLI, the developer sign-in). A managed identity only gets
    tokens for its home tenant, so that is the tenant it can really check. Reaching
    customer tenants without a secret (a multi-tenant app registration trusting the
    managed identity as a federated credential, one ``ClientAssertionCredential`` per
    tenant) comes behind this same call: the clients do not change.

    Closing it closes the identity only when this object was told it owns it.
    """

    def __init__(self, identity: AsyncTokenCredential, *, owns_identity: bool = False) -> None:
        self._identity = identity
        self._owns_identity = owns_identity

    def for_tenant(self, tenant_id: str) -> AsyncTokenCredential:
        """The credential for ``tenant_id``'s Exchange Online and Microsoft Graph."""
        return self._identity

    async def close(self) -> None:
        if self._owns_identity:
            await self._identity.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
