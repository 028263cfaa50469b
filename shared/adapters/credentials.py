"""Credentials: the managed identity, never a secret.

Inside Azure Functions (and with the simulator) ``IDENTITY_ENDPOINT`` and
``IDENTITY_HEADER`` are set and ``ManagedIdentityCredential`` uses them;
``AZURE_CLIENT_ID`` picks a user-assigned identity. On an admin's workstation
without them, the CLI falls back to the developer credentials of
``DefaultAzureCredential`` (Azure CLI, azd, PowerShell), with the managed identity
probe turned off so nothing waits on an instance metadata endpoint that is not there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

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
