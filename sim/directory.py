"""The simulated directory: app registrations with their federated identity
credentials, and per tenant the apps consented there (their service principals,
app roles and directory role). Read by the Entra token endpoint (sim/entra.py) and
by Exchange and Graph, which check what a token's app was granted.

/work/shared/reference/deployment.md, "Multi-tenant access" (3.1, 3.2).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

GLOBAL_AUDIENCE = "api://AzureADTokenExchange"
EXCHANGE_APP_ROLE = "Exchange.ManageAsApp"
SIGN_IN_LOG_ROLE = "AuditLog.Read.All"
# Tokens name this host in their issuer whatever host serves the sim, as the real
# ones do; a federated credential's issuer is written with it.
LOGIN_HOST = "https://login.microsoftonline.com"
_PRINCIPALS = uuid.UUID("6f1d3c2a-4b5e-4c7d-9e8f-0a1b2c3d4e5f")


def issuer_of(tenant_id: str) -> str:
    return f"{LOGIN_HOST}/{tenant_id.lower()}/v2.0"


def principal_id(client_id: str) -> str:
    """The object (principal) id of the managed identity with this client id: fixed per
    client id, different from it, as in Entra."""
    return str(uuid.uuid5(_PRINCIPALS, client_id.lower()))


@dataclass(frozen=True)
class FederatedCredential:
    """One federated identity credential on the app registration."""

    issuer: str
    subject: str
    audiences: tuple[str, ...] = (GLOBAL_AUDIENCE,)
    name: str = "identity"  # Graph's name for it: unique per app, immutable


@dataclass
class SimApp:
    app_id: str
    home_tenant: str
    credentials: list[FederatedCredential] = field(default_factory=list)
    multi_tenant: bool = True  # signInAudience AzureADMultipleOrgs


@dataclass
class Grant:
    """The app's service principal in one tenant: what consent granted (app roles) and
    the directory role an admin assigned to it (None: none yet)."""

    roles: frozenset[str] = frozenset({EXCHANGE_APP_ROLE, SIGN_IN_LOG_ROLE})
    directory_role: str | None = "Global Reader"


class Directory:
    """App registrations and, per tenant, the apps consented there. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._apps: dict[str, SimApp] = {}
        self._grants: dict[tuple[str, str], Grant] = {}

    def register_app(self, app: SimApp) -> SimApp:
        with self._lock:
            self._apps[app.app_id.lower()] = app
        return app

    def app(self, app_id: str) -> SimApp | None:
        with self._lock:
            return self._apps.get(app_id.lower())

    def consent(self, tenant_id: str, app_id: str, grant: Grant) -> Grant:
        with self._lock:
            self._grants[(tenant_id.lower(), app_id.lower())] = grant
        return grant

    def revoke(self, tenant_id: str, app_id: str) -> None:
        """Delete the app's service principal in the tenant (offboarding)."""
        with self._lock:
            self._grants.pop((tenant_id.lower(), app_id.lower()), None)

    def grant(self, tenant_id: str, app_id: str) -> Grant | None:
        with self._lock:
            return self._grants.get((tenant_id.lower(), app_id.lower()))

    def clear(self) -> None:
        with self._lock:
            self._apps.clear()
            self._grants.clear()
