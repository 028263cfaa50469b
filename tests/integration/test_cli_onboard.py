"""Onboarding a customer tenant as admins do it: `tenant onboard` prints the consent
link, the role and the permissions and adds the row through tenant add's own checked
write (Azurite); `tenant verify` asks Entra (the sim over HTTPS, the real
azure-identity classes) for a token in the tenant, runs Get-TransportConfig and reads
the sign-in logs, and says which grant is missing, one state of the sim each."""

from __future__ import annotations

import uuid

import pytest

from shared.core.commands import admin_consent_url

from ..conftest import UAMI_CLIENT_ID
from .test_cli_admin import cli, desired_rows, tenant_row

pytestmark = pytest.mark.usefixtures("app_env")
DOMAIN = "fabrikam.onmicrosoft.com"


@pytest.fixture
def customer(sim, customer_app):
    """A customer tenant in the sim, not yet consented, and its tenant row."""
    tenant = str(uuid.uuid4())
    sim.add_tenant(tenant, DOMAIN).seed(3)
    assert cli("tenant", "onboard", "--tenant", tenant, "--domain", DOMAIN).code == 0
    return tenant


def verify(tenant: str):
    return cli("tenant", "verify", "--tenant", tenant)


def calls_of(sim, tenant: str) -> list:
    return [r for r in sim.requests if r.tenant == tenant and r.cmdlet != "token" and r.headers]


def line(out: str, check: str) -> str:
    (found,) = [text for text in out.splitlines() if text.strip().startswith(f"{check}:")]
    return found


# -- onboard -------------------------------------------------------------------------


def test_onboard_prints_the_consent_link_role_and_permissions_then_adds_the_row(app_env, customer_app):
    tenant = str(uuid.uuid4())
    ran = cli(
        "tenant", "onboard", "--tenant", tenant, "--domain", DOMAIN, "--notify-email", "ops@contoso.com"
    )
    assert ran.code == 0, ran.err
    url = (
        f"https://login.microsoftonline.com/{tenant}/adminconsent?client_id={customer_app.app_id}"
        "&scope=https://outlook.office365.com/.default"
    )
    assert url in ran.out.split()
    assert "Global Reader" in ran.out and "report mode" in ran.out
    assert "AuditLog.Read.All and Directory.Read.All" in ran.out and "Entra ID P1" in ran.out
    assert f"smtp-auth-guard tenant verify --tenant {tenant}" in ran.out
    row = tenant_row(app_env, tenant)
    assert (row["InitialDomain"], row["Mode"], row["NotifyEmail"]) == (DOMAIN, "report", "ops@contoso.com")
    assert "AppId" not in row  # the deployment's app: nothing to keep in the row


def test_onboard_for_remediate_names_exchange_administrator_and_keeps_a_rows_own_app(
    app_env, customer_app, monkeypatch
):
    monkeypatch.setenv("SMTPAUTH_TOKEN_EXCHANGE_AUDIENCE", "api://AzureADTokenExchangeUSGov")
    tenant, other_app = str(uuid.uuid4()), str(uuid.uuid4())
    ran = cli(
        "tenant", "onboard", "--tenant", tenant, "--domain", DOMAIN, "--mode", "remediate",
        "--app-id", other_app.upper(),
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert admin_consent_url(tenant, other_app, "api://AzureADTokenExchangeUSGov") in ran.out.split()
    assert f"https://login.microsoftonline.us/{tenant}/adminconsent?client_id={other_app}&" in ran.out
    assert (
        "assign Exchange Administrator" in ran.out and f"New-ServicePrincipal -AppId {other_app}" in ran.out
    )
    row = tenant_row(app_env, tenant)
    assert (row["Mode"], row["AppId"]) == ("remediate", other_app)


def test_onboard_refuses_what_tenant_add_refuses_and_writes_nothing(app_env, customer_app):
    tenant = str(uuid.uuid4())
    assert cli("tenant", "add", "--tenant", tenant, "--domain", DOMAIN, "--max-changes", "7").code == 0
    before = desired_rows(app_env)

    again = cli("tenant", "onboard", "--tenant", tenant, "--domain", DOMAIN)
    assert again.code == 2 and "already monitored" in again.err and "tenant set" in again.err
    taken = cli("tenant", "onboard", "--tenant", str(uuid.uuid4()), "--domain", DOMAIN.upper())
    assert taken.code == 2 and f"already has the domain {DOMAIN}" in taken.err
    bad = cli("tenant", "onboard", "--tenant", str(uuid.uuid4()), "--domain", DOMAIN, "--evidence-days", "31")
    assert bad.code == 2 and "--evidence-days" in bad.err
    assert cli("tenant", "onboard", "--tenant", DOMAIN, "--domain", DOMAIN).code == 2  # a GUID, not a domain
    assert desired_rows(app_env) == before


def test_onboard_without_a_multitenant_app_says_which_setting_and_writes_nothing(app_env, tenant_id):
    ran = cli("tenant", "onboard", "--tenant", str(uuid.uuid4()), "--domain", DOMAIN)
    assert ran.code == 2 and "SMTPAUTH_MULTITENANT_APP_ID" in ran.err and "nothing was written" in ran.err
    assert "adminconsent" not in ran.out
    assert desired_rows(app_env) == []


def test_onboard_of_the_home_tenant_needs_no_consent(app_env, customer_app, tenant_id):
    ran = cli("tenant", "onboard", "--tenant", tenant_id, "--domain", DOMAIN)
    assert ran.code == 0, ran.err
    assert "home tenant" in ran.out and "adminconsent" not in ran.out
    assert "Exchange.ManageAsApp" in ran.out and tenant_row(app_env, tenant_id)["InitialDomain"] == DOMAIN
    own_app = cli(
        "tenant", "onboard", "--tenant", tenant_id, "--domain", DOMAIN, "--app-id", str(uuid.uuid4())
    )
    assert own_app.code == 2 and "home tenant" in own_app.err


# -- verify: one state of the sim each -------------------------------------------------


def test_verify_with_every_grant_in_place_exits_0_with_a_token_issued_in_the_tenant(
    sim, customer_app, customer
):
    customer_app.consent(customer)
    ran = verify(DOMAIN)  # --tenant by its initial domain
    assert ran.code == 0, ran.out + ran.err
    assert "every grant is in place" in ran.out
    for check in ("token (consent)", "Exchange role", "sign-in evidence"):
        assert line(ran.out, check).split(": ")[1] == "ok"
    calls = calls_of(sim, customer)
    assert {r.cmdlet for r in calls} == {"Get-TransportConfig", "signIns"}
    assert {(r.token_tenant, r.token_client) for r in calls} == {(customer, customer_app.app_id)}
    # One token exchange per resource, in the customer tenant, through the app.
    tokens = [(r.tenant, r.parameters["client_id"]) for r in sim.requests if r.cmdlet == "token"]
    assert tokens == [(customer, customer_app.app_id)] * 2


def test_verify_without_consent_says_consent_is_missing_and_tries_nothing_else(sim, customer_app, customer):
    ran = verify(customer)
    assert ran.code == 1
    token = line(ran.out, "token (consent)")
    assert "MISSING" in token and "admin consent is missing" in token and "AADSTS7000229" in token
    assert admin_consent_url(customer, customer_app.app_id) in token.split()
    assert "not tried" in line(ran.out, "Exchange role") and "not tried" in line(ran.out, "sign-in evidence")
    assert not calls_of(sim, customer)
    assert "missing: token (consent)" in ran.out


def test_verify_with_consent_but_no_exchange_role_says_which_role(sim, customer_app, customer):
    customer_app.consent(customer, directory_role=None)
    ran = verify(customer)
    assert ran.code == 1
    exchange = line(ran.out, "Exchange role")
    assert "MISSING" in exchange and "consent is there" in exchange and "HTTP 403" in exchange
    assert "assign Global Reader (report mode) to the app's service principal" in exchange
    assert line(ran.out, "token (consent)").split(": ")[1] == "ok"
    assert line(ran.out, "sign-in evidence").split(": ")[1] == "ok"  # its own grant, still there


def test_verify_without_the_exchange_app_role_says_401_and_the_consent(sim, customer_app, customer):
    customer_app.consent(customer, roles={"AuditLog.Read.All"})
    exchange = line(verify(customer).out, "Exchange role")
    assert "HTTP 401" in exchange and "did not include Exchange.ManageAsApp" in exchange


def test_verify_without_p1_says_evidence_unavailable(sim, customer_app, customer):
    customer_app.consent(customer)
    sim.tenant(customer).premium = False
    ran = verify(customer)
    assert ran.code == 1
    evidence = line(ran.out, "sign-in evidence")
    assert "evidence unavailable" in evidence and "no Entra ID P1 licence" in evidence
    assert "WhenEvidenceUnavailable (hold" in evidence
    assert line(ran.out, "Exchange role").split(": ")[1] == "ok"


def test_verify_without_auditlog_read_all_says_evidence_unavailable_and_which_permission(
    sim, customer_app, customer
):
    customer_app.consent(customer, roles={"Exchange.ManageAsApp"})
    ran = verify(customer)
    assert ran.code == 1
    evidence = line(ran.out, "sign-in evidence")
    assert "evidence unavailable" in evidence and "lacks AuditLog.Read.All and Directory.Read.All" in evidence
    assert "Authorization_RequestDenied" in evidence


def test_verify_that_cannot_tell_exits_2(sim, customer_app, customer):
    customer_app.consent(customer)
    sim.faults.fail(400, "The request could not be read.", cmdlet="Get-TransportConfig")
    ran = verify(customer)
    assert ran.code == 2
    assert "could not tell" in line(ran.out, "Exchange role")
    assert "could not tell whether every grant is in place" in ran.out


def test_verify_of_a_row_with_its_own_app_uses_that_app(sim, customer_app):
    tenant, other_app = str(uuid.uuid4()), str(uuid.uuid4())
    sim.add_tenant(tenant, DOMAIN)
    sim.register_app(other_app, home_tenant=customer_app.home, trusts_client_id=UAMI_CLIENT_ID)
    sim.consent(tenant, other_app)
    assert cli("tenant", "onboard", "--tenant", tenant, "--domain", DOMAIN, "--app-id", other_app).code == 0
    ran = verify(tenant)
    assert ran.code == 0, ran.out
    assert {r.token_client for r in calls_of(sim, tenant)} == {other_app}


def test_verify_of_the_home_tenant_uses_the_managed_identity(sim, customer_app, tenant_id):
    sim.add_tenant(tenant_id, DOMAIN)
    ran = verify(tenant_id)
    assert ran.code == 0, ran.out
    assert "with the managed identity" in ran.out
    assert {r.token_client for r in calls_of(sim, tenant_id)} == {UAMI_CLIENT_ID}
    assert not [r for r in sim.requests if r.cmdlet == "token"]  # no token exchange at home
