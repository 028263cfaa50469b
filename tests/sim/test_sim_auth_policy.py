"""Contract of the simulator's Get-OrganizationConfig and Get-AuthenticationPolicy
(real HTTP), and of its month of realistic sign-ins."""

from __future__ import annotations

from datetime import UTC, datetime

from sim.graph_filter import matches, parse_filter
from sim.signin_mix import SPRAY_IP, usage_mix
from tests.sim.exo_http import ExoClient

SMTP_SUCCESS = "(clientAppUsed eq 'Authenticated SMTP' or clientAppUsed eq 'SMTP') and status/errorCode eq 0"


def test_a_tenant_has_no_default_authentication_policy_until_one_is_set(exo: ExoClient) -> None:
    reply = exo.invoke("Get-OrganizationConfig")
    assert reply.status == 200, reply.raw[:300]
    (config,) = reply.json["value"]
    assert config["DefaultAuthenticationPolicy"] is None
    assert "OAuth2ClientProfileEnabled" in config  # among its neighbours, as in Exchange

    exo.tenant.auth_policies.add("Block Basic Auth", default=True)
    (config,) = exo.invoke("Get-OrganizationConfig", select="DefaultAuthenticationPolicy").json["value"]
    assert config == {"DefaultAuthenticationPolicy": "Block Basic Auth"}


def test_authentication_policies_are_listed_and_found_by_name_or_guid(exo: ExoClient) -> None:
    blocked = exo.tenant.auth_policies.add("Block Basic Auth")
    exo.tenant.auth_policies.add("Printers", allow=("Smtp",))

    listed = exo.invoke("Get-AuthenticationPolicy").json["value"]
    assert [(p["Name"], p["AllowBasicAuthSmtp"]) for p in listed] == [
        ("Block Basic Auth", False),
        ("Printers", True),
    ]
    # A new policy blocks Basic for every protocol (New-AuthenticationPolicy: all default $false).
    assert not any(v for k, v in listed[0].items() if k.startswith("AllowBasicAuth"))
    assert listed[1]["AllowBasicAuthImap"] is False

    by_guid = exo.invoke(
        "Get-AuthenticationPolicy", {"Identity": blocked.guid}, select="Name,AllowBasicAuthSmtp"
    )
    assert by_guid.json["value"] == [{"Name": "Block Basic Auth", "AllowBasicAuthSmtp": False}]
    by_name = exo.invoke("Get-AuthenticationPolicy", {"Identity": "printers"}).json["value"]
    assert by_name[0]["Identity"] == "Printers"


def test_an_unknown_authentication_policy_is_not_found(exo: ExoClient) -> None:
    reply = exo.invoke("Get-AuthenticationPolicy", {"Identity": "Gone"})
    assert reply.status == 404
    assert "ManagementObjectNotFoundException" in reply.useful_message
    assert "'Gone' couldn't be found" in reply.useful_message


def test_the_sign_in_mix_holds_usage_noise_and_a_spray(exo: ExoClient) -> None:
    tenant = exo.tenant
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    printer, app, person = tenant.mailbox_at(3), tenant.mailbox_at(42), tenant.mailbox_at(7)
    sprayed = [tenant.mailbox_at(i).address for i in range(10, 30)]
    entries = usage_mix(now, basic=[printer], legacy=[app], people=[person], sprayed=sprayed)

    flt = parse_filter(SMTP_SUCCESS)
    usage = [e for e in entries if matches(flt, e)]
    assert {e["userPrincipalName"] for e in usage} == {printer.address, app.address}
    assert {e["clientAppUsed"] for e in usage} == {"Authenticated SMTP", "SMTP"}
    assert all(e["userId"] for e in usage)
    spray = [e for e in entries if e["ipAddress"] == SPRAY_IP]
    assert len(spray) == 20 and all(e["status"]["errorCode"] == 50126 for e in spray)
    failed = [e for e in entries if e["status"]["errorCode"] and e["ipAddress"] != SPRAY_IP]
    assert {e["userPrincipalName"] for e in failed} == {printer.address, app.address}
    others = {e["clientAppUsed"] for e in entries if e["userPrincipalName"] == person.address}
    assert others and not others & {"Authenticated SMTP", "SMTP"}
    assert usage_mix(now, basic=[printer], seed=1) == usage_mix(now, basic=[printer], seed=1)
