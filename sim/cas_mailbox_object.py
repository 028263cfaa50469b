"""The JSON object Get-CASMailbox returns for one mailbox.

Property names and the "~75 properties, a few KB each; ~200 bytes with
$select=Guid,PrimarySmtpAddress,ExternalDirectoryObjectId,SmtpClientAuthenticationDisabled"
size come from docs/simulator.md (Exchange admin API facts, with their public sources), section "What a full
CAS mailbox object holds". Values are realistic-looking and deterministic (derived
from the mailbox GUID), so full pages weigh what real ones do in benchmarks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sim.tenant import SimMailbox, SimTenant

_ADMIN_GROUP_NAME = "Exchange Administrative Group (FYDIBOHF23SPDLT)"
_EXCHANGE_ADMIN_GROUP = f"/o=ExchangeLabs/ou={_ADMIN_GROUP_NAME}"
_EPOCH = datetime(2019, 3, 1, tzinfo=UTC)
_PROTOCOL_SETTINGS = [
    "MAPI\u00a71\u00a70\u00a7\u00a7\u00a7\u00a7\u00a7\u00a7",
    "RemotePowerShell\u00a71",
    "HTTP\u00a71\u00a71\u00a7\u00a7\u00a7\u00a7\u00a7\u00a7",
    "OWA\u00a71",
    "IMAP4\u00a71\u00a71\u00a74\u00a7\u00a7\u00a7\u00a7\u00a7\u00a7\u00a7\u00a7\u00a7",
    "POP3\u00a71\u00a71\u00a74\u00a7\u00a7\u00a7\u00a7\u00a7\u00a7\u00a7\u00a7\u00a7",
    "ActiveSync\u00a71",
]
_IMAP = ["outlook.office365.com:993:SSL", "outlook.office365.com:143:TLS"]
_POP = ["outlook.office365.com:995:SSL", "outlook.office365.com:110:TLS"]
_SMTP = ["smtp.office365.com:587:TLS"]
_OBJECT_CLASS = ["top", "person", "organizationalPerson", "user"]

# Output order of a full object (the reference's list plus a few more real ones).
CAS_MAILBOX_PROPERTIES: tuple[str, ...] = (
    "Identity", "Id", "Guid", "Name", "DisplayName", "DistinguishedName",
    "PrimarySmtpAddress", "EmailAddresses", "SamAccountName", "LegacyExchangeDN",
    "ServerName", "ServerLegacyDN", "ExternalDirectoryObjectId", "ExchangeObjectId",
    "OrganizationId", "OriginatingServer", "ObjectCategory", "ObjectClass",
    "ObjectState", "IsValid", "ExchangeVersion", "WhenChanged", "WhenCreated",
    "WhenChangedUTC", "WhenCreatedUTC", "LinkedMasterAccount", "ProtocolSettings",
    "ActiveSyncEnabled", "ActiveSyncDebugLogging", "ActiveSyncMailboxPolicy",
    "ActiveSyncMailboxPolicyIsDefaulted", "ActiveSyncSuppressReadReceipt",
    "ActiveSyncAllowedDeviceIDs", "ActiveSyncBlockedDeviceIDs",
    "HasActiveSyncDevicePartnership", "OWAEnabled", "OWAforDevicesEnabled",
    "OwaMailboxPolicy", "ECPEnabled", "EwsEnabled", "EwsAllowOutlook",
    "EwsAllowMacOutlook", "EwsAllowEntourage", "EwsApplicationAccessPolicy",
    "EwsAllowList", "EwsBlockList", "ImapEnabled", "ImapEnableExactRFC822Size",
    "ImapForceICalForCalendarRetrievalOption", "ImapMessagesRetrievalMimeFormat",
    "ImapSuppressReadReceipt", "ImapUseProtocolDefaults", "PopEnabled",
    "PopEnableExactRFC822Size", "PopForceICalForCalendarRetrievalOption",
    "PopMessageDeleteEnabled", "PopMessagesRetrievalMimeFormat",
    "PopSuppressReadReceipt", "PopUseProtocolDefaults", "MAPIEnabled",
    "MapiHttpEnabled", "MAPIBlockOutlookVersions", "MAPIBlockOutlookRpcHttp",
    "MAPIBlockOutlookNonCachedMode", "MAPIBlockOutlookExternalConnectivity",
    "InternalImapSettings", "ExternalImapSettings", "InternalPopSettings",
    "ExternalPopSettings", "InternalSmtpSettings", "ExternalSmtpSettings",
    "IsOptimizedForAccessibility", "PublicFolderClientAccess", "ShowGalAsDefaultView",
    "UniversalOutlookEnabled", "OutlookMobileEnabled", "MacOutlookEnabled",
    "OneWinNativeOutlookEnabled", "SmtpClientAuthenticationDisabled",
)  # fmt: skip

_CANONICAL = {name.lower(): name for name in CAS_MAILBOX_PROPERTIES}

# Properties that need no expensive derivation: the fast path for $select.
_CHEAP = {
    "identity", "id", "name", "guid", "displayname", "primarysmtpaddress",
    "externaldirectoryobjectid", "exchangeobjectid", "smtpclientauthenticationdisabled",
}  # fmt: skip


def canonical_property(name: str) -> str | None:
    """PascalCase name for a case-insensitive CAS mailbox property, else None."""
    return _CANONICAL.get(name.lower())


def _cheap_values(mbx: SimMailbox) -> dict[str, Any]:
    name = mbx.name
    return {
        "Identity": name,
        "Id": name,
        "Name": name,
        "Guid": mbx.guid,
        "DisplayName": mbx.display_name,
        "PrimarySmtpAddress": mbx.primary_smtp_address,
        "ExternalDirectoryObjectId": mbx.external_directory_object_id,
        "ExchangeObjectId": mbx.guid,
        "SmtpClientAuthenticationDisabled": mbx.smtp_auth_disabled,
    }


def forest_names(tenant: SimTenant) -> tuple[str, str]:
    """A stable fake forest and mailbox server name for the tenant."""
    digest = hashlib.sha256(tenant.tenant_id.encode()).hexdigest()
    forest = f"NAMPR{int(digest[:2], 16) % 20 + 1:02d}A{int(digest[2:5], 16) % 1000:03d}"
    server = f"SA1PR{int(digest[5:7], 16) % 20 + 1:02d}MB{int(digest[7:11], 16) % 10000:04d}"
    return forest, server


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def full_object(mbx: SimMailbox, tenant: SimTenant) -> dict[str, Any]:
    """Every property, as Get-CASMailbox without $select returns it (a few KB)."""
    forest, server = forest_names(tenant)
    forest_fqdn = f"{forest}.PROD.OUTLOOK.COM"
    domain = tenant.initial_domain
    name = mbx.name
    hex_guid = mbx.guid.replace("-", "")
    created = _EPOCH + timedelta(seconds=int(hex_guid[:8], 16) % (4 * 365 * 86400))
    changed = (
        datetime.fromtimestamp(mbx.when_changed, UTC)
        if mbx.when_changed
        else created + timedelta(days=int(hex_guid[8:10], 16))
    )
    emails = [
        f"SMTP:{mbx.primary_smtp_address}",
        f"smtp:{tenant.routing_address(mbx.primary_smtp_address)}",
        *(f"smtp:{alias}" for alias in mbx.aliases),
        f"SIP:{mbx.primary_smtp_address}",
        f"X500:{_EXCHANGE_ADMIN_GROUP}/cn=Recipients/cn={hex_guid[16:]}{hex_guid[:16]}-{name[:10]}",
        f"X500:/o=First Organization/ou={_ADMIN_GROUP_NAME}/cn=Recipients/cn={name}{hex_guid[:8]}",
    ]
    sam = f"${hex_guid[:6].upper()}-{hex_guid[20:32].upper()}"
    org_id = (
        f"{forest}.prod.outlook.com/Microsoft Exchange Hosted Organizations/{domain} - "
        f"{forest}.prod.outlook.com/ConfigurationUnits/{domain}/Configuration"
    )
    return {
        **_cheap_values(mbx),
        "DistinguishedName": (
            f"CN={name},OU={domain},OU=Microsoft Exchange Hosted Organizations,"
            f"DC={forest},DC=PROD,DC=OUTLOOK,DC=COM"
        ),
        "EmailAddresses": emails,
        "SamAccountName": sam,
        "LegacyExchangeDN": f"{_EXCHANGE_ADMIN_GROUP}/cn=Recipients/cn={hex_guid}-{name[:10]}",
        "ServerName": server.lower(),
        "ServerLegacyDN": f"{_EXCHANGE_ADMIN_GROUP}/cn=Configuration/cn=Servers/cn={server}",
        "OrganizationId": org_id,
        "OriginatingServer": f"SA1{forest[3:]}DC0{int(hex_guid[10], 16) % 9 + 1}.{forest_fqdn}",
        "ObjectCategory": f"{forest}.prod.outlook.com/Configuration/Schema/Person",
        "ObjectClass": _OBJECT_CLASS,
        "ObjectState": "Unchanged",
        "IsValid": True,
        "ExchangeVersion": "0.20 (15.0.0.0)",
        "WhenChanged": _iso(changed),
        "WhenCreated": _iso(created),
        "WhenChangedUTC": _iso(changed),
        "WhenCreatedUTC": _iso(created),
        "LinkedMasterAccount": "",
        "ProtocolSettings": _PROTOCOL_SETTINGS,
        "ActiveSyncEnabled": True,
        "ActiveSyncDebugLogging": False,
        "ActiveSyncMailboxPolicy": "Default",
        "ActiveSyncMailboxPolicyIsDefaulted": True,
        "ActiveSyncSuppressReadReceipt": False,
        "ActiveSyncAllowedDeviceIDs": [],
        "ActiveSyncBlockedDeviceIDs": [],
        "HasActiveSyncDevicePartnership": False,
        "OWAEnabled": True,
        "OWAforDevicesEnabled": True,
        "OwaMailboxPolicy": "OwaMailboxPolicy-Default",
        "ECPEnabled": True,
        "EwsEnabled": None,
        "EwsAllowOutlook": None,
        "EwsAllowMacOutlook": None,
        "EwsAllowEntourage": None,
        "EwsApplicationAccessPolicy": None,
        "EwsAllowList": None,
        "EwsBlockList": None,
        "ImapEnabled": True,
        "ImapEnableExactRFC822Size": False,
        "ImapForceICalForCalendarRetrievalOption": False,
        "ImapMessagesRetrievalMimeFormat": "BestBodyFormat",
        "ImapSuppressReadReceipt": False,
        "ImapUseProtocolDefaults": True,
        "PopEnabled": True,
        "PopEnableExactRFC822Size": False,
        "PopForceICalForCalendarRetrievalOption": False,
        "PopMessageDeleteEnabled": True,
        "PopMessagesRetrievalMimeFormat": "BestBodyFormat",
        "PopSuppressReadReceipt": False,
        "PopUseProtocolDefaults": True,
        "MAPIEnabled": True,
        "MapiHttpEnabled": None,
        "MAPIBlockOutlookVersions": "",
        "MAPIBlockOutlookRpcHttp": False,
        "MAPIBlockOutlookNonCachedMode": False,
        "MAPIBlockOutlookExternalConnectivity": False,
        "InternalImapSettings": _IMAP,
        "ExternalImapSettings": _IMAP,
        "InternalPopSettings": _POP,
        "ExternalPopSettings": _POP,
        "InternalSmtpSettings": _SMTP,
        "ExternalSmtpSettings": _SMTP,
        "IsOptimizedForAccessibility": False,
        "PublicFolderClientAccess": False,
        "ShowGalAsDefaultView": True,
        "UniversalOutlookEnabled": True,
        "OutlookMobileEnabled": True,
        "MacOutlookEnabled": True,
        "OneWinNativeOutlookEnabled": True,
    }


def cas_mailbox_object(
    mbx: SimMailbox, tenant: SimTenant, select: Sequence[str] | None = None
) -> dict[str, Any]:
    """The object for one mailbox, trimmed to `select` (canonical names) if given.

    Selecting only cheap properties skips building the full object, so a
    100,000-mailbox listing with a narrow $select stays fast in benchmarks.
    """
    return cas_mailbox_objects([mbx], tenant, select)[0]


def cas_mailbox_objects(
    rows: Sequence[SimMailbox], tenant: SimTenant, select: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """``cas_mailbox_object`` of each row, deciding once per page what to build."""
    if select is None:
        fulls = (full_object(mbx, tenant) for mbx in rows)
        return [{name: full[name] for name in CAS_MAILBOX_PROPERTIES} for full in fulls]
    if all(name.lower() in _CHEAP for name in select):
        sources = (_cheap_values(mbx) for mbx in rows)
    else:
        sources = (full_object(mbx, tenant) for mbx in rows)
    return [{name: source[name] for name in select if name in source} for source in sources]
