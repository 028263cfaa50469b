"""InvokeCommand: auth, anchor, body, the four cmdlets, $select, errors, records."""

from __future__ import annotations

import json

import pytest

from sim import SimServer, SimTenant
from tests.sim.exo_http import ANCHOR, SEEDED, ExoClient, cmdlet_body, http

UPN_ANCHOR = "UPN:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@"
NARROW = "Guid,PrimarySmtpAddress,ExternalDirectoryObjectId,SmtpClientAuthenticationDisabled"


def assert_error_shape(reply_json: dict) -> None:
    error = reply_json["error"]
    assert set(error) >= {"code", "message", "details", "innererror"}
    assert set(error["details"][0]) == {"code", "message", "target"}
    assert error["details"][0]["message"]
    # The audit's captured bodies carry no internalException (Microsoft365DSC#2998).
    assert "internalException" not in error["innererror"]


# -- authentication ---------------------------------------------------------------


def test_missing_token_is_401(exo: ExoClient) -> None:
    reply = exo.invoke("Get-TransportConfig", headers=exo.headers(Authorization=None))

    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error_shape(reply.json)


def test_unknown_token_is_401(exo: ExoClient) -> None:
    reply = exo.invoke("Get-TransportConfig", headers=exo.headers(Authorization="Bearer not-a-sim-token"))
    assert reply.status == 401


def test_expired_token_is_401(fresh_sim: SimServer, exo: ExoClient) -> None:
    fresh_sim.token_lifetime_s = -1
    try:
        expired = fresh_sim.issue_token()
    finally:
        fresh_sim.token_lifetime_s = 3600
    reply = exo.invoke("Get-TransportConfig", headers=exo.headers(Authorization=f"Bearer {expired}"))

    assert reply.status == 401
    assert "expired" in reply.useful_message


# -- routing: tenant and anchor ------------------------------------------------------


def test_missing_anchor_is_400(exo: ExoClient) -> None:
    reply = exo.invoke("Get-TransportConfig", headers=exo.headers(X_AnchorMailbox=None))

    assert reply.status == 400
    assert_error_shape(reply.json)
    assert "X-AnchorMailbox" in reply.useful_message
    assert "missing" in reply.useful_message


def test_anchor_of_another_tenant_is_400(exo: ExoClient) -> None:
    reply = exo.invoke(
        "Get-TransportConfig", headers=exo.headers(X_AnchorMailbox=ANCHOR + "other.onmicrosoft.com")
    )

    assert reply.status == 400
    assert "invalid" in reply.useful_message


@pytest.mark.parametrize("form", ["app-guid", "app-domain", "upn-domain", "upper"])
def test_accepted_anchor_forms(exo: ExoClient, exo_tenant: SimTenant, form: str) -> None:
    anchor = {
        "app-guid": ANCHOR + exo_tenant.tenant_id,
        "app-domain": ANCHOR + exo_tenant.initial_domain,
        "upn-domain": UPN_ANCHOR + exo_tenant.initial_domain,
        "upper": (ANCHOR + exo_tenant.tenant_id).upper(),
    }[form]
    assert exo.invoke("Get-TransportConfig", headers=exo.headers(X_AnchorMailbox=anchor)).status == 200


def test_tenant_by_initial_domain_in_url(exo: ExoClient, exo_tenant: SimTenant) -> None:
    url = exo.url.replace(exo_tenant.tenant_id, exo_tenant.initial_domain)
    reply = exo.invoke("Get-TransportConfig", url=url)

    assert reply.status == 200
    assert f"/adminapi/beta/{exo_tenant.initial_domain}/$metadata#Collection(" in reply.json["@odata.context"]


def test_unknown_tenant_is_404(exo: ExoClient) -> None:
    url = exo.url.replace(exo.tenant.tenant_id, "nobody.onmicrosoft.com")
    reply = exo.invoke("Get-TransportConfig", url=url)

    assert reply.status == 404
    assert_error_shape(reply.json)


# -- request body -------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"{}",
        b'{"CmdletInput": {"Parameters": {}}}',
        b'{"CmdletInput": {"CmdletName": "Get-CASMailbox", "Parameters": []}}',
    ],
)
def test_bad_body_is_400(exo: ExoClient, raw: bytes) -> None:
    reply = http("POST", exo.url, raw=raw, headers=exo.headers())

    assert reply.status == 400
    assert_error_shape(reply.json)


def test_unknown_cmdlet_is_400(exo: ExoClient) -> None:
    reply = exo.invoke("Get-Mailbox")

    assert reply.status == 400
    assert "Get-Mailbox" in reply.useful_message


def test_unknown_parameter_is_400(exo: ExoClient) -> None:
    reply = exo.invoke("Get-CASMailbox", {"Filter": "SmtpClientAuthenticationDisabled -eq $false"})

    assert reply.status == 400
    assert "parameter name 'Filter'" in reply.useful_message


# -- the org setting ---------------------------------------------------------------------


def test_get_transport_config(exo: ExoClient) -> None:
    reply = exo.invoke("Get-TransportConfig")

    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json
    assert "$metadata#Collection(" in body["@odata.context"]
    (config,) = body["value"]
    assert config["SmtpClientAuthenticationDisabled"] is True
    assert len(config) >= 11
    assert {"Identity", "MaxSendSize", "MaxReceiveSize", "ExternalPostmasterAddress"} <= set(config)


def test_set_transport_config_changes_the_org_setting(fresh_sim: SimServer, exo: ExoClient) -> None:
    reply = exo.invoke("Set-TransportConfig", {"SmtpClientAuthenticationDisabled": False})

    assert reply.status == 200
    assert reply.json["value"] == []
    assert "@odata.context" in reply.json
    assert exo.tenant.org_smtp_auth_disabled is False
    got = exo.invoke("Get-TransportConfig", select="SmtpClientAuthenticationDisabled").json["value"]
    assert got == [{"SmtpClientAuthenticationDisabled": False}]
    (call,) = fresh_sim.set_calls
    assert call.cmdlet == "Set-TransportConfig"
    assert call.parameters == {"SmtpClientAuthenticationDisabled": False}
    assert call.status == 200


def test_set_transport_config_refuses_null(exo: ExoClient) -> None:
    reply = exo.invoke("Set-TransportConfig", {"SmtpClientAuthenticationDisabled": None})
    assert reply.status == 400
    assert exo.tenant.org_smtp_auth_disabled is True


# -- mailboxes ---------------------------------------------------------------------------


def test_full_cas_mailbox_object(exo: ExoClient, exo_tenant: SimTenant) -> None:
    mbx = exo_tenant.mailbox("user00003@" + exo_tenant.initial_domain)
    assert mbx is not None
    reply = exo.invoke("Get-CASMailbox", {"Identity": mbx.guid})

    (obj,) = reply.json["value"]
    assert len(obj) >= 60
    assert len(json.dumps(obj)) > 2000  # "a few KB"
    assert obj["Guid"] == mbx.guid
    assert obj["PrimarySmtpAddress"] == mbx.primary_smtp_address
    assert obj["ExternalDirectoryObjectId"] == mbx.external_directory_object_id
    assert obj["SmtpClientAuthenticationDisabled"] is False
    prefixes = {address.split(":", 1)[0] for address in obj["EmailAddresses"]}
    assert prefixes == {"SMTP", "smtp", "SIP", "X500"}
    for name in (
        "Identity",
        "DistinguishedName",
        "SamAccountName",
        "LegacyExchangeDN",
        "ImapEnabled",
        "PopEnabled",
    ):
        assert name in obj


def test_select_trims_case_insensitively(exo: ExoClient) -> None:
    reply = exo.invoke("Get-CASMailbox", {"ResultSize": 5}, select=NARROW.lower())

    objects = reply.json["value"]
    assert len(objects) == 5
    for obj in objects:
        assert list(obj) == NARROW.split(",")  # PascalCase, in the requested order
        assert len(json.dumps(obj, separators=(",", ":"))) < 300


@pytest.mark.parametrize("how", ["guid", "primary", "upper", "routing", "edoid"])
def test_get_cas_mailbox_by_identity(exo: ExoClient, exo_tenant: SimTenant, how: str) -> None:
    mbx = exo_tenant.mailbox_at(42)
    identity = {
        "guid": mbx.guid,
        "primary": mbx.primary_smtp_address,
        "upper": mbx.primary_smtp_address.upper(),
        "routing": exo_tenant.routing_address(mbx.primary_smtp_address),
        "edoid": mbx.external_directory_object_id,
    }[how]
    reply = exo.invoke("Get-CASMailbox", {"Identity": identity}, select="Guid")

    assert reply.json["value"] == [{"Guid": mbx.guid}]


def test_unknown_identity_is_404(exo: ExoClient) -> None:
    reply = exo.invoke("Get-CASMailbox", {"Identity": "ghost@example.com"})

    assert reply.status == 404
    assert_error_shape(reply.json)
    detail = reply.json["error"]["details"][0]
    assert detail["code"] == "Context" and reply.json["error"]["code"] == "NotFound"
    code, exception_type, message = reply.useful_message.split("|", 2)
    assert code == "Ex6F9304"
    assert exception_type == "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
    assert message.startswith(
        "The operation couldn't be performed because object 'ghost@example.com' couldn't be found on '"
    )
    assert message.endswith("'.")


@pytest.mark.parametrize("value", [False, True, None])
def test_set_cas_mailbox_changes_state(fresh_sim: SimServer, exo: ExoClient, value: bool | None) -> None:
    start = {False: True, True: None, None: False}[value]  # always a real change
    mbx = exo.tenant.set_override("user00100@" + exo.tenant.initial_domain, start)

    reply = exo.invoke("Set-CASMailbox", {"Identity": mbx.guid, "SmtpClientAuthenticationDisabled": value})

    assert reply.status == 200
    assert reply.json["value"] == []
    assert "@adminapi.warnings" not in reply.json
    assert exo.tenant.mailbox(mbx.guid).smtp_auth_disabled is value  # type: ignore[union-attr]
    got = exo.invoke("Get-CASMailbox", {"Identity": mbx.primary_smtp_address}, select=NARROW).json["value"]
    assert got[0]["SmtpClientAuthenticationDisabled"] is value
    assert [c.parameters for c in fresh_sim.set_calls] == [
        {"Identity": mbx.guid, "SmtpClientAuthenticationDisabled": value}
    ]


def test_set_cas_mailbox_without_change_warns(exo: ExoClient) -> None:
    reply = exo.invoke(
        "Set-CASMailbox",
        {"Identity": "user00003@" + exo.tenant.initial_domain, "SmtpClientAuthenticationDisabled": False},
    )

    assert reply.status == 200
    assert "no settings of 'user00003' have been modified" in reply.json["@adminapi.warnings"][0]


def test_set_cas_mailbox_unknown_identity_is_404(exo: ExoClient) -> None:
    reply = exo.invoke(
        "Set-CASMailbox", {"Identity": "ghost@example.com", "SmtpClientAuthenticationDisabled": True}
    )
    assert reply.status == 404


def test_result_size_default_is_1000_with_a_warning(exo: ExoClient) -> None:
    pages = exo.pages("Get-CASMailbox", {}, select="Guid")

    assert len(pages) == 1
    assert len(pages[0]["value"]) == 1000
    assert "ResultSize" in pages[0]["@adminapi.warnings"][0]


def test_result_size_number_and_unlimited(exo: ExoClient) -> None:
    assert len(exo.invoke("Get-CASMailbox", {"ResultSize": 7}, select="Guid").json["value"]) == 7
    pages = exo.pages("Get-CASMailbox", {"ResultSize": "Unlimited"}, select="Guid")
    assert sum(len(p["value"]) for p in pages) == SEEDED
    assert exo.invoke("Get-CASMailbox", {"ResultSize": "lots"}).status == 400


# -- forbidden tenants ---------------------------------------------------------------------


def test_forbidden_tenant_with_message(exo: ExoClient) -> None:
    exo.tenant.forbidden = "Access denied: no Exchange role."
    reply = exo.invoke("Get-TransportConfig")

    assert reply.status == 403
    assert reply.useful_message == "Access denied: no Exchange role."


def test_forbidden_tenant_with_empty_body(exo: ExoClient) -> None:
    exo.tenant.forbidden = ""
    reply = exo.invoke("Get-TransportConfig")

    assert reply.status == 403
    assert reply.raw == b""


# -- records ---------------------------------------------------------------------------------


def test_requests_are_recorded_without_secrets(fresh_sim: SimServer, exo: ExoClient) -> None:
    exo.invoke("Get-CASMailbox", {"ResultSize": 2}, select="Guid")
    http("POST", exo.url, body=cmdlet_body("Get-TransportConfig"), headers=exo.headers(Authorization=None))

    ok, refused = fresh_sim.requests
    assert (ok.method, ok.status, ok.bearer, ok.cmdlet) == ("POST", 200, True, "Get-CASMailbox")
    assert ok.tenant == exo.tenant.tenant_id
    assert ok.parameters == {"ResultSize": 2}
    assert ok.query == {"$select": "Guid"}
    assert ok.path == f"/adminapi/beta/{exo.tenant.tenant_id}/InvokeCommand"
    assert ok.headers["x-anchormailbox"] == ANCHOR + exo.tenant.tenant_id
    assert "authorization" not in ok.headers
    assert exo.token not in repr(ok)
    assert (refused.status, refused.bearer, refused.cmdlet) == (401, False, "Get-TransportConfig")
    assert fresh_sim.set_calls == []
