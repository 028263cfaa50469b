"""What the 2026-12 audit found real Exchange answers look like, played by the sim:
cmdlet error bodies, the 401 of a missing Exchange role, ``@adminapi.errors`` and
warnings-only 200s, tenant-specific hosts (/work/shared/reference/exchange-admin-api.md,
"Corrections found in the 2026-12 audit")."""

from __future__ import annotations

from sim import SimServer
from tests.sim.exo_http import ExoClient, http

NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"


def test_a_cmdlet_error_names_its_exception_type_in_the_detail(fresh_sim: SimServer, exo: ExoClient) -> None:
    fresh_sim.faults.fail(400, "The object is not there.", exception_type=NOT_FOUND, cmdlet="Get-CASMailbox")
    reply = exo.invoke("Get-CASMailbox", {"Identity": "x@example.com"})

    assert reply.status == 400
    error = reply.json["error"]
    assert error["message"] == "Error executing cmdlet"
    assert error["details"] == [
        {"code": "Context", "target": "", "message": f"Ex6F9304|{NOT_FOUND}|The object is not there."}
    ]
    assert error["innererror"] == {
        "message": "Error executing cmdlet",
        "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
    }


def test_a_missing_exchange_role_is_401_with_the_text_in_error_message(exo: ExoClient) -> None:
    exo.tenant.exchange_role = False
    reply = exo.invoke("Get-CASMailbox", {"ResultSize": 1})

    assert reply.status == 401
    error = reply.json["error"]
    assert error["code"] == "Unauthorized"
    assert error["message"] == "User is not allowed to call Get-CASMailbox"
    assert "details" not in error
    assert error["innererror"]["message"] == "User is not allowed to call Get-CASMailbox"


def test_partial_errors_come_in_a_200_beside_the_value(fresh_sim: SimServer, exo: ExoClient) -> None:
    fresh_sim.faults.partial_errors("The mailbox is being moved.", cmdlet="Get-CASMailbox")
    reply = exo.invoke("Get-CASMailbox", {"ResultSize": 5}, select="Guid")

    assert reply.status == 200
    assert len(reply.json["value"]) == 5
    (error,) = reply.json["@adminapi.errors"]
    assert error.startswith("Ex") and error.endswith("|The mailbox is being moved.")
    assert exo.invoke("Get-CASMailbox", {"ResultSize": 5}).json.get("@adminapi.errors") is None  # once


def test_warnings_only_has_no_value(fresh_sim: SimServer, exo: ExoClient) -> None:
    fresh_sim.faults.warnings_only("Changes take up to 60 minutes.", cmdlet="Set-TransportConfig")
    reply = exo.invoke("Set-TransportConfig", {"SmtpClientAuthenticationDisabled": False})

    assert reply.status == 200
    assert "value" not in reply.json
    assert reply.json["@adminapi.warnings"] == ["Changes take up to 60 minutes."]
    assert exo.tenant.org_smtp_auth_disabled is False  # the cmdlet ran


def test_a_tenant_on_its_own_host_is_redirected_there(fresh_sim: SimServer, exo: ExoClient) -> None:
    exo.tenant.home_host = "tenant1.outlook.office365.com"
    url = exo.url + "?$select=Guid"
    reply = exo.invoke("Get-TransportConfig", url=url)

    assert reply.status == 302
    assert reply.headers["Location"] == (
        f"http://tenant1.outlook.office365.com/adminapi/beta/{exo.tenant.tenant_id}/InvokeCommand?$select=Guid"
    )
    batch = http(
        "POST", exo.url.replace("/InvokeCommand", "/$batch"), body={"requests": []}, headers=exo.headers()
    )
    assert batch.status == 302 and batch.headers["Location"].endswith("/$batch")
    # At its own host it answers (the Host header is what the sim compares).
    here = exo.invoke(
        "Get-TransportConfig", headers={**exo.headers(), "Host": "tenant1.outlook.office365.com"}
    )
    assert here.status == 200
