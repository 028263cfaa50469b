"""Sign-in log entries, kept per tenant: Graph answers ``auditLogs/signIns`` with the
logs of the tenant the token was issued in, never another's. Thread-safe: tests add
on their thread, the server reads on its own."""

from __future__ import annotations

import threading
from typing import Any


class SignInLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_tenant: dict[str, list[dict[str, Any]]] = {}

    def add(self, tenant_id: str, entry: dict[str, Any]) -> None:
        with self._lock:
            self._by_tenant.setdefault(tenant_id.lower(), []).append(entry)

    def entries(self, tenant_id: str) -> list[dict[str, Any]]:
        """A snapshot of one tenant's entries (empty for a tenant with none)."""
        with self._lock:
            return list(self._by_tenant.get(tenant_id.lower(), ()))

    def clear(self, tenant_id: str | None = None) -> None:
        """Forget one tenant's entries, or every tenant's."""
        with self._lock:
            if tenant_id is None:
                self._by_tenant.clear()
            else:
                self._by_tenant.pop(tenant_id.lower(), None)
