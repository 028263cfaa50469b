"""The one permission step after `azd up`: the app roles the function app's managed
identity needs in Microsoft Graph and Exchange Online, and (for customer tenants) the
federated credential that lets the multi-tenant app trust that identity.

Idempotent: it reads what is granted and adds only what is missing; `--dry-run` prints
what it would change and changes nothing. Run it as a Privileged Role Administrator
(app roles) and Application Administrator or the app's owner (the credential); the
Exchange role (Global Reader, or an RBAC for Applications assignment) is a separate,
documented step (docs/permissions.md). Signs in with the Azure CLI (`az login`), or a
managed identity where IDENTITY_ENDPOINT is set. Prints no token.

    python infra/scripts/grant_permissions.py --principal-id <identity principal id> [--dry-run]
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

try:
    from azure.core import PipelineClient
    from azure.core.exceptions import AzureError
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
    from azure.core.rest import HttpRequest
except ImportError:  # run by azd's hook with a Python that lacks the SDK
    sys.exit(
        "grant_permissions.py needs azure-identity: `pip install -r requirements.txt` (or run it with .venv/bin/python)"
    )

EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"  # Office 365 Exchange Online
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"  # Microsoft Graph
FIC_AUDIENCE = "api://AzureADTokenExchange"
FIC_NAME = "smtp-auth-guard-identity"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"  # the token's audience, whatever --graph-url says
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class Role:
    resource_app_id: str
    value: str
    why: str


ROLES = (
    Role(EXCHANGE_APP_ID, "Exchange.ManageAsApp", "the Exchange Online admin API (every check)"),
    Role(GRAPH_APP_ID, "AuditLog.Read.All", "sign-in logs: who used SMTP AUTH recently"),
    Role(GRAPH_APP_ID, "Directory.Read.All", "sign-in logs (Graph names both permissions)"),
)
MAIL_SEND = Role(GRAPH_APP_ID, "Mail.Send", "notification mail, tenant-wide")


class StepError(Exception):
    """What stops the step, said so an admin can act on it."""


@dataclass(frozen=True)
class Grant:
    role: Role
    resource_id: str  # the resource service principal's object id
    resource_name: str
    app_role_id: str


def missing_grants(
    roles: Iterable[Role], resources: dict[str, dict[str, Any]], assigned: Iterable[dict[str, Any]]
) -> tuple[list[Grant], list[Grant]]:
    """(to grant, already granted) for ``roles``, given each resource app's service
    principal (by appId) and the identity's current assignments. Pure."""
    have = {(a.get("resourceId"), a.get("appRoleId")) for a in assigned}
    todo: list[Grant] = []
    done: list[Grant] = []
    for role in roles:
        sp = resources[role.resource_app_id]
        ids = [r["id"] for r in sp.get("appRoles", []) if r.get("value") == role.value]
        if not ids:
            raise StepError(f"{sp.get('displayName')} has no app role {role.value}")
        grant = Grant(role, sp["id"], str(sp.get("displayName")), ids[0])
        (done if (grant.resource_id, grant.app_role_id) in have else todo).append(grant)
    return todo, done


def wanted_credential(home_tenant: str, principal_id: str, login: str, audience: str) -> dict[str, Any]:
    return {
        "name": FIC_NAME,
        "issuer": f"{login.rstrip('/')}/{home_tenant}/v2.0",
        "subject": principal_id,  # the identity's object (principal) id, case-sensitive
        "audiences": [audience],
        "description": "SMTP AUTH Guard's managed identity reaches customer tenants without a secret",
    }


def credential_present(wanted: dict[str, Any], existing: Iterable[dict[str, Any]]) -> bool:
    (audience,) = wanted["audiences"]
    return any(
        c.get("issuer") == wanted["issuer"] and c.get("subject") == wanted["subject"]
        and audience in (c.get("audiences") or [])
        for c in existing
    )  # fmt: skip


class Graph:
    """Microsoft Graph v1.0 on azure-core's pipeline (retries honour Retry-After)."""

    def __init__(self, base_url: str, credential: Any) -> None:
        self._base = base_url.rstrip("/")
        # Plain http only to a loopback host (the simulator): never send a token in clear.
        self._enforce_https = not _loopback(urlsplit(self._base).hostname)
        self._client: PipelineClient[HttpRequest, Any] = PipelineClient(
            self._base,
            policies=[RetryPolicy(retry_total=3), BearerTokenCredentialPolicy(credential, GRAPH_SCOPE)],
        )

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        request = HttpRequest(method, f"{self._base}/v1.0/{path}", json=body)
        try:
            response = self._client.send_request(request, enforce_https=self._enforce_https)
        except AzureError as exc:
            raise StepError(f"Graph {method} {path.split('?')[0]}: {exc.message}") from None
        if response.status_code >= 400:
            try:
                error = response.json().get("error", {})
            except ValueError:
                error = {}
            hint = ""
            if response.status_code == 403:
                hint = " (granting app roles needs Privileged Role Administrator; a credential, Application Administrator or the app's owner)"
            raise StepError(
                f"Graph {method} {path.split('?')[0]} answered {response.status_code} "
                f"{error.get('code', '')}: {error.get('message', '')}{hint}"
            )
        return response.json() if response.content else {}

    def service_principal(self, app_id: str) -> dict[str, Any]:
        query = quote(f"appId eq '{app_id}'")
        found = self._send("GET", f"servicePrincipals?$filter={query}")["value"]
        if not found:
            raise StepError(f"no service principal for appId {app_id} in this tenant")
        return found[0]

    def assignments(self, principal_id: str) -> list[dict[str, Any]]:
        return self._send("GET", f"servicePrincipals/{principal_id}/appRoleAssignments")["value"]

    def assign(self, principal_id: str, grant: Grant) -> None:
        body = {"principalId": principal_id, "resourceId": grant.resource_id, "appRoleId": grant.app_role_id}
        self._send("POST", f"servicePrincipals/{principal_id}/appRoleAssignments", body)

    def credentials(self, app_id: str) -> list[dict[str, Any]]:
        return self._send("GET", f"applications(appId='{app_id}')/federatedIdentityCredentials")["value"]

    def add_credential(self, app_id: str, credential: dict[str, Any]) -> None:
        self._send("POST", f"applications(appId='{app_id}')/federatedIdentityCredentials", credential)


def _loopback(host: str | None) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _url(text: str) -> str:
    parts = urlsplit(text.strip())
    if not parts.hostname or not (
        parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname))
    ):
        raise argparse.ArgumentTypeError("must be an https:// URL (plain http:// only for a loopback host)")
    return text.strip()


def _credential() -> Any:
    if os.environ.get("IDENTITY_ENDPOINT"):
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=os.environ.get("AZURE_CLIENT_ID") or None)
    from azure.identity import AzureCliCredential

    return AzureCliCredential()


def _guid(name: str) -> Any:
    def check(text: str) -> str:
        if not GUID.match(text.strip()):
            raise argparse.ArgumentTypeError(f"{name} must be a GUID")
        return text.strip()

    return check


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--principal-id", type=_guid("--principal-id"), default=env("SMTPAUTH_IDENTITY_PRINCIPAL_ID"),
                        help="the managed identity's principal (object) id (azd output SMTPAUTH_IDENTITY_PRINCIPAL_ID)")  # fmt: skip
    parser.add_argument("--tenant-id", type=_guid("--tenant-id"), default=env("AZURE_TENANT_ID"),
                        help="the home tenant (azd output AZURE_TENANT_ID); needed with --multitenant-app-id")  # fmt: skip
    parser.add_argument("--multitenant-app-id", type=_guid("--multitenant-app-id"),
                        default=env("SMTPAUTH_MULTITENANT_APP_ID") or None,
                        help="the multi-tenant app registration that customer tenants consent to: give it a "
                             "federated credential trusting the identity")  # fmt: skip
    parser.add_argument("--mail-send-tenant-wide", action="store_true",
                        help="also grant Graph Mail.Send in Entra: lets the identity send as ANY mailbox; leave it "
                             "off and scope Mail.Send with Exchange RBAC for Applications instead (docs/permissions.md)")  # fmt: skip
    parser.add_argument("--audience", default=env("SMTPAUTH_TOKEN_EXCHANGE_AUDIENCE") or FIC_AUDIENCE,
                        help="the federated credential's audience (another only in a national cloud)")  # fmt: skip
    parser.add_argument("--graph-url", type=_url, default="https://graph.microsoft.com")
    parser.add_argument("--login-url", type=_url, default="https://login.microsoftonline.com")
    parser.add_argument("--dry-run", action="store_true", help="print what would change; change nothing")
    args = parser.parse_args(argv)
    if not args.principal_id:
        parser.error(
            "--principal-id is required (or SMTPAUTH_IDENTITY_PRINCIPAL_ID from `azd env get-values`)"
        )
    if args.multitenant_app_id and not args.tenant_id:
        parser.error("--multitenant-app-id needs --tenant-id (or AZURE_TENANT_ID): the credential's issuer")
    return args


def run(args: argparse.Namespace, graph: Graph) -> int:
    verb = "would grant" if args.dry_run else "granted"
    roles = (*ROLES, MAIL_SEND) if args.mail_send_tenant_wide else ROLES
    resources = {app_id: graph.service_principal(app_id) for app_id in {r.resource_app_id for r in roles}}
    todo, done = missing_grants(roles, resources, graph.assignments(args.principal_id))
    for grant in done:
        print(f"already granted: {grant.role.value} on {grant.resource_name} ({grant.role.why})")
    for grant in todo:
        if not args.dry_run:
            graph.assign(args.principal_id, grant)
        print(f"{verb}: {grant.role.value} on {grant.resource_name} ({grant.role.why})")
    changes = len(todo)
    if args.mail_send_tenant_wide:
        print("warning: Mail.Send in Entra lets the identity send as every mailbox in the tenant; an Exchange "
              "RBAC for Applications scope cannot narrow it")  # fmt: skip
    if args.multitenant_app_id:
        wanted = wanted_credential(args.tenant_id, args.principal_id, args.login_url, args.audience)
        if credential_present(wanted, graph.credentials(args.multitenant_app_id)):
            print(f"already present: federated credential on app {args.multitenant_app_id}")
        else:
            if not args.dry_run:
                graph.add_credential(args.multitenant_app_id, wanted)
            changes += 1
            what = "would add" if args.dry_run else "added"
            print(f"{what}: federated credential on app {args.multitenant_app_id} "
                  f"(issuer {wanted['issuer']}, subject {args.principal_id}, audience {args.audience})")  # fmt: skip
    print(f"{changes} change(s) {'to make' if args.dry_run else 'made'}; next: the Exchange role "
          "(docs/permissions.md, 'The Exchange role')")  # fmt: skip
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args, Graph(args.graph_url, _credential()))
    except StepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
