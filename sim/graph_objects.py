"""Microsoft Graph's directory objects that the permission step reads and writes:
service principals with their app roles, and app role assignments (docs/simulator.md,
"Graph directory"). An application's federated identity credentials live in
sim/directory.py, where the Entra token endpoint checks them.

Documented shapes (microsoft-graph-docs, v1.0): ``GET /servicePrincipals?$filter=appId
eq '<id>'`` (servicePrincipal-list), ``GET|POST /servicePrincipals/{id}/appRoleAssignments``
(serviceprincipal-list-approleassignments, serviceprincipal-post-approleassignments: 201
with the assignment), ``GET|POST /applications(appId='{appId}')/federatedIdentityCredentials``
(application-list-federatedidentitycredentials, application-post-federatedidentitycredentials:
201). Only what infra/scripts/grant_permissions.py sends is played.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# App role ids as published (graph permissions-reference; Exchange app-only auth docs).
KNOWN_ROLES = {
    EXCHANGE_APP_ID: (
        "Office 365 Exchange Online",
        {"Exchange.ManageAsApp": "dc50a0fb-09a3-484d-be87-e023b12c6440"},
    ),
    GRAPH_APP_ID: (
        "Microsoft Graph",
        {
            "AuditLog.Read.All": "b0afded3-3588-46d8-8b3d-9842eff778da",
            "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
            "Mail.Send": "b633e1c5-b582-4048-a93e-9f11b44c7e96",
        },
    ),
}
_FILTER_APP_ID = re.compile(r"^\s*appId\s+eq\s+'([0-9a-fA-F-]{36})'\s*$")


def app_id_filter(text: str) -> str | None:
    match = _FILTER_APP_ID.match(text)
    return match.group(1).lower() if match else None


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class GraphObjects:
    """The home tenant's service principals and app role assignments, as far as the
    permission step sees them.

    ``writable = False`` plays a caller without the right to grant (Privileged Role
    Administrator for app roles; Application Administrator or owner for a credential):
    Graph's 403 ``Authorization_RequestDenied``."""

    service_principals: dict[str, dict[str, Any]] = field(default_factory=dict)  # by object id
    assignments: list[dict[str, Any]] = field(default_factory=list)
    writable: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for app_id, (name, roles) in KNOWN_ROLES.items():
            self.add_service_principal(app_id, name, roles)

    def add_service_principal(
        self, app_id: str, name: str, roles: dict[str, str] | None = None, object_id: str | None = None
    ) -> dict[str, Any]:
        sp = {
            "id": object_id or str(uuid.uuid4()),
            "appId": app_id,
            "displayName": name,
            "servicePrincipalType": "Application" if roles else "ManagedIdentity",
            "appRoles": [
                {
                    "allowedMemberTypes": ["Application"],
                    "id": rid,
                    "value": value,
                    "isEnabled": True,
                    "displayName": value,
                    "description": value,
                }
                for value, rid in (roles or {}).items()
            ],
        }
        with self._lock:
            self.service_principals[sp["id"]] = sp
        return sp

    def by_app_id(self, app_id: str) -> list[dict[str, Any]]:
        return [sp for sp in self.service_principals.values() if sp["appId"].lower() == app_id]

    def assignments_of(self, principal_id: str) -> list[dict[str, Any]]:
        return [a for a in self.assignments if a["principalId"] == principal_id]

    def assign(self, principal_id: str, resource_id: str, app_role_id: str) -> dict[str, Any] | str:
        """The new assignment, or why Graph refuses it (400's message)."""
        resource = self.service_principals.get(resource_id)
        if resource is None or not any(r["id"] == app_role_id for r in resource["appRoles"]):
            return "Permission being assigned was not found on application"
        with self._lock:
            if any(
                a["principalId"] == principal_id
                and a["resourceId"] == resource_id
                and a["appRoleId"] == app_role_id
                for a in self.assignments
            ):
                return "Permission being assigned already exists on the object"
            principal = self.service_principals[principal_id]
            assignment = {
                "id": uuid.uuid4().hex,
                "appRoleId": app_role_id,
                "createdDateTime": _now(),
                "principalDisplayName": principal["displayName"],
                "principalId": principal_id,
                "principalType": "ServicePrincipal",
                "resourceDisplayName": resource["displayName"],
                "resourceId": resource_id,
            }
            self.assignments.append(assignment)
        return assignment
