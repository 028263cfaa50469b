"""The JSON object Get-TransportConfig returns for a tenant.

The property that matters is SmtpClientAuthenticationDisabled (the org-wide
switch, see docs/simulator.md (Exchange admin API facts, with their public sources), "The setting"); the
others are realistic neighbours so a client must pick the right one out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sim.tenant import SimTenant

_CREATED = "2020-02-11T09:14:37+00:00"


def transport_config_object(tenant: SimTenant) -> dict[str, Any]:
    changed = (
        datetime.fromtimestamp(tenant.org_when_changed, UTC).isoformat(timespec="seconds")
        if tenant.org_when_changed
        else "2023-06-20T14:02:51+00:00"
    )
    return {
        "Identity": "Transport Settings",
        "Name": "Transport Settings",
        "Guid": tenant.tenant_id,
        "OrganizationId": f"{tenant.initial_domain} - ConfigurationUnits/{tenant.initial_domain}/Configuration",
        "AddressBookPolicyRoutingEnabled": False,
        "AllowLegacyTLSClients": False,
        "ClearCategories": True,
        "ConvertDisclaimerWrapperToEml": False,
        "DSNConversionMode": "UseExchangeDSNs",
        "ExternalDsnReportingAuthority": "",
        "ExternalPostmasterAddress": None,
        "HeaderPromotionModeSetting": "NoCreate",
        "InternalSMTPServers": [],
        "JournalingReportNdrTo": "<>",
        "MaxDumpsterSizePerDatabase": "18 MB (18,874,368 bytes)",
        "MaxReceiveSize": "36 MB (37,748,736 bytes)",
        "MaxRecipientEnvelopeLimit": "500",
        "MaxSendSize": "35 MB (36,700,160 bytes)",
        "MessageExpiration": "1.00:00:00",
        "ReplyAllStormProtectionEnabled": True,
        "SmtpClientAuthenticationDisabled": tenant.read_org_setting(),
        "TLSReceiveDomainSecureList": [],
        "TLSSendDomainSecureList": [],
        "VoicemailJournalingEnabled": True,
        "ObjectState": "Unchanged",
        "IsValid": True,
        "WhenChanged": changed,
        "WhenCreated": _CREATED,
    }
