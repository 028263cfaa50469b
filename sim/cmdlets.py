"""The cmdlets the product needs, run against a SimTenant.

Semantics from docs/simulator.md (Exchange admin API facts, with their public sources) ("The setting",
"The transport"): Get/Set-TransportConfig for the org value, Get/Set-CASMailbox
for per-mailbox values; a JSON null parameter is PowerShell's $null; Set-*
return an empty `value`. Parameter names and cmdlet names are case-insensitive
as in PowerShell. Behaviour the reference leaves open follows Exchange:
Get-CASMailbox without ResultSize returns the first 1000 with a warning, and a
Set-* that changes nothing succeeds with a "no settings ... modified" warning.
Get-OrganizationConfig and Get-AuthenticationPolicy (the other switch, Basic SMTP
AUTH) follow sim/authentication_policy.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sim.authentication_policy import organization_config_object, policy_object
from sim.cas_mailbox_object import canonical_property, cas_mailbox_object, cas_mailbox_objects, forest_names
from sim.errors import ExchangeError
from sim.tenant import SimTenant
from sim.transport_config_object import transport_config_object

# page(offset, limit, select) -> objects; select holds requested names, any case.
PageFn = Callable[[int, int, list[str] | None], list[dict[str, Any]]]

DEFAULT_RESULT_SIZE = 1000
_COMMON = {"erroraction", "warningaction", "informationaction", "verbose", "debug"}
_SET_COMMON = _COMMON | {"confirm", "whatif"}
_RESULT_SIZE_WARNING = (
    "By default only the first 1000 items are returned. Use the ResultSize parameter to "
    'specify the number of items returned. To return all items specify "-ResultSize '
    'Unlimited". Be aware that, depending on the actual number of items, returning all '
    "items can take a long time and consume a large amount of memory. Also, we don't "
    "recommend storing the results in a variable. Instead, pipe the results to another "
    "task or script to perform batch changes."
)


@dataclass
class CmdletOutput:
    """What a cmdlet produced; the transport slices it into pages."""

    type_name: str
    total: int
    page: PageFn
    warnings: list[str] = field(default_factory=list)


def _empty_page(offset: int, limit: int, select: list[str] | None) -> list[dict[str, Any]]:
    return []


def _bad_request(message: str, exception_type: str) -> ExchangeError:
    return ExchangeError(400, "BadRequest", message, exception_type=exception_type)


def _normalize(params: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    """Lower-cased parameter names; unknown names fail as PowerShell binding does."""
    allowed_set = set(allowed)
    out: dict[str, Any] = {}
    for name, value in params.items():
        key = name.lower()
        if key not in allowed_set:
            raise _bad_request(
                f"A parameter cannot be found that matches parameter name '{name}'.",
                "System.Management.Automation.ParameterBindingException",
            )
        out[key] = value
    return out


def _bool_or_null(name: str, value: Any, *, allow_null: bool) -> bool | None:
    if isinstance(value, bool) or (value is None and allow_null):
        return value
    shown = "$null" if value is None else repr(value)
    raise _bad_request(
        f"Cannot process argument transformation on parameter '{name}'. "
        f'Cannot convert value "{shown}" to type "System.Boolean".',
        "System.Management.Automation.ParameterBindingArgumentTransformationException",
    )


def _not_found(tenant: SimTenant, identity: str) -> ExchangeError:
    forest, _ = forest_names(tenant)
    return ExchangeError(
        404,
        "NotFound",
        f"The operation couldn't be performed because object '{identity}' couldn't be "
        f"found on 'SA1{forest[3:]}DC01.{forest}.PROD.OUTLOOK.COM'.",
        exception_type="Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
    )


def _result_size(value: Any) -> int | None:
    """None = Unlimited."""
    if isinstance(value, str) and value.strip().lower() == "unlimited":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise _bad_request(
        f"Cannot bind parameter 'ResultSize'. Cannot convert value \"{value}\" to type "
        '"Microsoft.Exchange.Data.Unlimited`1[System.UInt32]".',
        "System.Management.Automation.ParameterBindingException",
    )


def _identity(params: dict[str, Any], cmdlet: str) -> str | None:
    """The optional Identity parameter (None when absent or null)."""
    if params.get("identity") is None:
        return None
    return _required_identity(params, cmdlet)


def _required_identity(params: dict[str, Any], cmdlet: str) -> str:
    value = params.get("identity")
    if not isinstance(value, str) or not value.strip():
        raise _bad_request(
            f"Cannot process command because of one or more missing mandatory parameters: "
            f"Identity. ({cmdlet})",
            "System.Management.Automation.ParameterBindingException",
        )
    return value


# -- cmdlets -------------------------------------------------------------------


def get_transport_config(tenant: SimTenant, params: Mapping[str, Any]) -> CmdletOutput:
    _normalize(params, _COMMON | {"identity"})

    def page(offset: int, limit: int, select: list[str] | None) -> list[dict[str, Any]]:
        if offset > 0 or limit < 1:
            return []
        return [_select_plain(transport_config_object(tenant), select)]

    return CmdletOutput("Exchange.TransportConfig", 1, page)


def set_transport_config(tenant: SimTenant, params: Mapping[str, Any]) -> CmdletOutput:
    p = _normalize(params, _SET_COMMON | {"identity", "smtpclientauthenticationdisabled"})
    warnings: list[str] = []
    if "smtpclientauthenticationdisabled" in p:
        value = _bool_or_null(
            "SmtpClientAuthenticationDisabled", p["smtpclientauthenticationdisabled"], allow_null=False
        )
        if not p.get("whatif") and not tenant.set_org_setting(value, via_cmdlet=True):
            warnings.append(
                "The command completed successfully but no settings of 'Transport Settings' have been modified."
            )
    return CmdletOutput("Exchange.GenericHashTable", 0, _empty_page, warnings)


def get_cas_mailbox(tenant: SimTenant, params: Mapping[str, Any]) -> CmdletOutput:
    p = _normalize(params, _COMMON | {"identity", "resultsize"})
    identity = _identity(p, "Get-CASMailbox")
    if identity is not None:
        mbx = tenant.read_mailbox(identity)
        if mbx is None:
            raise _not_found(tenant, identity)

        def one(offset: int, limit: int, select: list[str] | None) -> list[dict[str, Any]]:
            if offset > 0 or limit < 1:
                return []
            return [cas_mailbox_object(mbx, tenant, _canonical_cas(select))]

        return CmdletOutput("Exchange.CASMailbox", 1, one)

    limit_all = _result_size(p["resultsize"]) if "resultsize" in p else DEFAULT_RESULT_SIZE
    count = len(tenant)
    total = count if limit_all is None else min(count, limit_all)
    warnings = [_RESULT_SIZE_WARNING] if "resultsize" not in p and count > total else []

    def page(offset: int, limit: int, select: list[str] | None) -> list[dict[str, Any]]:
        names = _canonical_cas(select)
        return cas_mailbox_objects(tenant.rows(offset, min(offset + limit, total)), tenant, names)

    return CmdletOutput("Exchange.CASMailbox", total, page, warnings)


def set_cas_mailbox(tenant: SimTenant, params: Mapping[str, Any]) -> CmdletOutput:
    p = _normalize(params, _SET_COMMON | {"identity", "smtpclientauthenticationdisabled"})
    identity = _required_identity(p, "Set-CASMailbox")
    warnings: list[str] = []
    if "smtpclientauthenticationdisabled" not in p:
        mbx = tenant.mailbox(identity)
        if mbx is None:
            raise _not_found(tenant, identity)
        return CmdletOutput("Exchange.GenericHashTable", 0, _empty_page, warnings)
    value = _bool_or_null(
        "SmtpClientAuthenticationDisabled", p["smtpclientauthenticationdisabled"], allow_null=True
    )
    if p.get("whatif"):
        if tenant.mailbox(identity) is None:
            raise _not_found(tenant, identity)
        return CmdletOutput("Exchange.GenericHashTable", 0, _empty_page, warnings)
    result = tenant.apply_setting(identity, value)
    if result is None:
        raise _not_found(tenant, identity)
    mbx, changed = result
    if not changed:
        warnings.append(
            f"The command completed successfully but no settings of '{mbx.name}' have been modified."
        )
    return CmdletOutput("Exchange.GenericHashTable", 0, _empty_page, warnings)


def get_organization_config(tenant: SimTenant, params: Mapping[str, Any]) -> CmdletOutput:
    _normalize(params, _COMMON | {"identity"})
    obj = organization_config_object(tenant.initial_domain, tenant.tenant_id, tenant.auth_policies.default)

    def page(offset: int, limit: int, select: list[str] | None) -> list[dict[str, Any]]:
        return [] if offset > 0 or limit < 1 else [_select_plain(obj, select)]

    return CmdletOutput("Exchange.OrganizationConfig", 1, page)


def get_authentication_policy(tenant: SimTenant, params: Mapping[str, Any]) -> CmdletOutput:
    p = _normalize(params, _COMMON | {"identity"})
    identity = _identity(p, "Get-AuthenticationPolicy")
    if identity is None:
        found = tenant.auth_policies.all()
    else:
        one = tenant.auth_policies.find(identity)
        if one is None:
            raise _not_found(tenant, identity)
        found = [one]
    objects = [dict(policy_object(policy, tenant.initial_domain)) for policy in found]

    def page(offset: int, limit: int, select: list[str] | None) -> list[dict[str, Any]]:
        return [_select_plain(obj, select) for obj in objects[offset : offset + limit]]

    return CmdletOutput("Exchange.AuthenticationPolicy", len(objects), page)


def _canonical_cas(select: list[str] | None) -> list[str] | None:
    if select is None:
        return None
    names = [canonical_property(name) for name in select]
    return [name for name in names if name]  # unknown names are dropped


def _select_plain(obj: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    if select is None:
        return obj
    by_lower = {key.lower(): key for key in obj}
    keys = [by_lower[name.lower()] for name in select if name.lower() in by_lower]
    return {key: obj[key] for key in keys}


CMDLETS: dict[str, Callable[[SimTenant, Mapping[str, Any]], CmdletOutput]] = {
    "get-transportconfig": get_transport_config,
    "set-transportconfig": set_transport_config,
    "get-casmailbox": get_cas_mailbox,
    "set-casmailbox": set_cas_mailbox,
    "get-organizationconfig": get_organization_config,
    "get-authenticationpolicy": get_authentication_policy,
}


def run_cmdlet(tenant: SimTenant, name: str, params: Mapping[str, Any]) -> CmdletOutput:
    """Run a cmdlet by (case-insensitive) name; ExchangeError for any failure."""
    func = CMDLETS.get(name.lower())
    if func is None:
        raise _bad_request(
            f"The term '{name}' is not recognized as a name of a cmdlet, function, script file, "
            "or executable program.",
            "System.Management.Automation.CommandNotFoundException",
        )
    return func(tenant, params)
