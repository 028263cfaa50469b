"""Exchange Online authentication policies of a simulated tenant, and the objects
``Get-AuthenticationPolicy`` and ``Get-OrganizationConfig`` return for them.

Sources (docs/simulator.md, rows "authentication policies"): Microsoft Learn
``Get-AuthenticationPolicy`` / ``New-AuthenticationPolicy`` (the ``AllowBasicAuth*``
switches, one per protocol; a policy created without them blocks Basic for every
protocol) and ``Set-OrganizationConfig -DefaultAuthenticationPolicy`` (the policy
that applies to every user without one of their own; none by default);
"Disable Basic authentication in Exchange Online". ``AllowBasicAuthSmtp`` governs
Basic SMTP AUTH only: OAuth SMTP AUTH is not affected by it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

# Every AllowBasicAuth* switch of New-AuthenticationPolicy (Microsoft Learn), in its order.
PROTOCOLS = (
    "ActiveSync",
    "Autodiscover",
    "Imap",
    "Mapi",
    "OfflineAddressBook",
    "OutlookService",
    "Pop",
    "Powershell",
    "ReportingWebServices",
    "Rpc",
    "Smtp",
    "WebServices",
)


@dataclass(frozen=True)
class AuthPolicy:
    name: str
    guid: str
    # Protocols Basic is allowed for (New-AuthenticationPolicy: none unless switched on).
    allowed: frozenset[str] = field(default_factory=frozenset)


class AuthPolicies:
    """A tenant's authentication policies and its organization default (None: no
    default policy, the state of a tenant nobody configured). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._policies: dict[str, AuthPolicy] = {}
        self._default: str | None = None

    def add(self, name: str, *, allow: tuple[str, ...] = (), default: bool = False) -> AuthPolicy:
        """A policy allowing Basic for ``allow`` (names from PROTOCOLS, e.g. "Smtp")."""
        unknown = set(allow) - set(PROTOCOLS)
        if unknown:
            raise ValueError(f"unknown protocols: {sorted(unknown)}")
        policy = AuthPolicy(name, str(uuid.uuid5(uuid.NAMESPACE_URL, f"authpolicy/{name}")), frozenset(allow))
        with self._lock:
            self._policies[name.lower()] = policy
            if default:
                self._default = name
        return policy

    def allow(self, name: str, protocol: str, allowed: bool = True) -> None:
        """Set-AuthenticationPolicy -AllowBasicAuth<protocol>."""
        with self._lock:
            policy = self._policies[name.lower()]
            changed = policy.allowed | {protocol} if allowed else policy.allowed - {protocol}
            self._policies[name.lower()] = replace(policy, allowed=changed)

    @property
    def default(self) -> str | None:
        with self._lock:
            return self._default

    @default.setter
    def default(self, name: str | None) -> None:
        with self._lock:
            if name is not None and name.lower() not in self._policies:
                raise KeyError(name)
            self._default = name

    def find(self, identity: str) -> AuthPolicy | None:
        """By name or GUID, any case (Identity takes either)."""
        with self._lock:
            found = self._policies.get(identity.lower())
            if found is None:
                found = next((p for p in self._policies.values() if p.guid == identity.lower()), None)
            return found

    def all(self) -> list[AuthPolicy]:
        with self._lock:
            return sorted(self._policies.values(), key=lambda p: p.name.lower())


def policy_object(policy: AuthPolicy, initial_domain: str) -> Mapping[str, Any]:
    dn = f"CN={policy.name},CN=Auth Policies,CN={initial_domain},CN=ConfigurationUnits,DC=EURPR01A001,DC=PROD,DC=OUTLOOK,DC=COM"
    obj: dict[str, Any] = {
        "Identity": policy.name,
        "Name": policy.name,
        "Id": policy.name,
        "Guid": policy.guid,
        "DistinguishedName": dn,
    }
    obj.update({f"AllowBasicAuth{p}": p in policy.allowed for p in PROTOCOLS})
    obj.update(
        {
            "ExchangeVersion": "0.20 (15.0.0.0)",
            "OrganizationId": f"EURPR01A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/{initial_domain} - EURPR01A001.PROD.OUTLOOK.COM/ConfigurationUnits/{initial_domain}/Configuration",
            "ObjectState": "Unchanged",
            "IsValid": True,
            "WhenChanged": "2024-03-04T10:21:09+00:00",
            "WhenCreated": "2024-03-04T10:21:09+00:00",
        }
    )
    return obj


def organization_config_object(
    initial_domain: str, tenant_id: str, default_policy: str | None
) -> dict[str, Any]:
    """Get-OrganizationConfig: ``DefaultAuthenticationPolicy`` among realistic
    neighbours (the product must pick it out), null when no default is set."""
    name = initial_domain.split(".", 1)[0]
    return {
        "Identity": initial_domain,
        "Name": initial_domain,
        "DisplayName": name,
        "Guid": tenant_id,
        "ActivityBasedAuthenticationTimeoutEnabled": True,
        "AuditDisabled": False,
        "AutoExpandingArchiveEnabled": False,
        "CustomerLockBoxEnabled": False,
        "DefaultAuthenticationPolicy": default_policy,
        "DefaultPublicFolderMailbox": None,
        "FocusedInboxOn": None,
        "IsDehydrated": False,
        "MailTipsAllTipsEnabled": True,
        "MailTipsExternalRecipientsTipsEnabled": False,
        "OAuth2ClientProfileEnabled": True,
        "PublicFoldersEnabled": "Local",
        "SmtpActionableMessagesEnabled": True,
        "WhenChanged": "2024-03-04T10:21:10+00:00",
        "WhenCreated": "2020-02-11T09:14:37+00:00",
        "ObjectState": "Unchanged",
        "IsValid": True,
    }
