"""Access tokens the sim mints and later accepts.

Tokens are opaque random strings, never JWT-shaped, so product code cannot
come to depend on decoding them (real tokens must be treated as opaque too).
Each is registered with its resource, client id, expiry and the directory tenant
it was issued in; the Exchange handler accepts only unexpired tokens minted for
https://outlook.office365.com (docs/simulator.md (Exchange admin API facts, with their public sources), "The
transport"). Graph answers for the token's tenant, as the real one does: a token
names one tenant, and Graph has no tenant in its URLs (docs/simulator.md).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, replace

EXCHANGE_RESOURCE = "https://outlook.office365.com"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    resource: str
    client_id: str
    expires_on: float  # epoch seconds
    tenant_id: str | None = None  # the directory tenant it was issued in; None = not bound
    # App roles the token carries (an app's token from the Entra endpoint, fixed at
    # issue time); None = a managed identity token, whose grants the tests switch
    # elsewhere (SimTenant.forbidden, graph_premium).
    roles: frozenset[str] | None = None


class TokenStore:
    """Thread-safe registry of minted tokens."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, IssuedToken] = {}

    def mint(
        self,
        resource: str,
        client_id: str,
        lifetime_s: float,
        tenant_id: str | None = None,
        roles: frozenset[str] | None = None,
    ) -> tuple[str, IssuedToken]:
        token = secrets.token_urlsafe(32)
        issued = IssuedToken(resource, client_id, time.time() + lifetime_s, tenant_id, roles)
        with self._lock:
            self._tokens[token] = issued
        return token, issued

    def lookup(self, token: str) -> IssuedToken | None:
        with self._lock:
            return self._tokens.get(token)

    def minted(self) -> list[str]:
        """Every token minted so far (for tests that prove none is logged or stored)."""
        with self._lock:
            return list(self._tokens)

    def expire_all(self) -> None:
        """Make every minted token expired (to test re-acquisition)."""
        with self._lock:
            self._tokens = {t: replace(i, expires_on=0.0) for t, i in self._tokens.items()}

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)


def same_resource(a: str, b: str) -> bool:
    """Resources match ignoring case and one trailing slash."""
    return a.rstrip("/").lower() == b.rstrip("/").lower()
