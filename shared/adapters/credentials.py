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
from typing import Self

from azure.core.credentials_async import AsyncTokenCredential


def has_managed_identity_endpoint(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return bool(env.get("IDENTITY_ENDPOINT") and env.get("IDENTITY_HEADER"))


def managed_identity(client_id: str | None) -> AsyncTokenCredential:
    from azure.identity.aio import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()


def workstation_credential(client_id: str | None) -> AsyncTokenCredential:
    """The CLI's credential: the managed identity where one is reachable."""
    if has_managed_identity_endpoint():
        return managed_identity(client_id)
    from azure.identity.aio import DefaultAzureCredential

    return DefaultAzureCredential(exclude_managed_identity_credential=True)


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
