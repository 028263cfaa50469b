"""Which grant is missing, from what tenant verify saw (shared.core.grants), and the
consent link per cloud (shared.core.commands)."""

from __future__ import annotations

import shlex

import pytest

from shared.adapters.exchange_transport import EXCHANGE_SCOPE
from shared.core.commands import CONSENT_SCOPE, admin_consent_url, tenant_onboard, tenant_verify
from shared.core.grants import (
    EVIDENCE,
    EXCHANGE,
    NO_PREMIUM,
    TOKEN,
    Outcome,
    Reach,
    Seen,
    aadsts_code,
    exit_code,
    onboarding_steps,
    verdicts,
)
from shared.core.limits import TOKEN_EXCHANGE_AUDIENCES
from shared.core.model import EvidencePolicy, Mode
from shared.shell.cli.app import build_parser

TENANT = "8f0c1b1e-2d3a-4b5c-9d6e-7f8091a2b3c4"
APP = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
URL = admin_consent_url(TENANT, APP)
CUSTOMER = Reach(TENANT, APP, Mode.REPORT, URL)
HOME = Reach(TENANT, None)
OK = Seen(ok=True)


def by_check(reach: Reach, token: Seen, exchange: Seen | None = OK, evidence: Seen | None = OK) -> dict:
    return {v.check: v for v in verdicts(reach, token, exchange, evidence)}


def entra(code: int) -> Seen:
    return Seen(
        status=401, text=f"ClientAssertionCredential.get_token failed: AADSTS{code}: words. Trace ID: x"
    )


def test_the_consent_link_is_the_exchange_docs_shape_and_its_host_follows_the_cloud():
    expected = (
        f"https://login.microsoftonline.com/{TENANT}/adminconsent?client_id={APP}"
        "&scope=https://outlook.office365.com/.default"
    )
    assert admin_consent_url(TENANT, APP) == expected
    hosts = [admin_consent_url(TENANT, APP, audience).split("/")[2] for audience in TOKEN_EXCHANGE_AUDIENCES]
    assert hosts == ["login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn"]
    assert CONSENT_SCOPE == EXCHANGE_SCOPE  # consent grants what the checks ask tokens for


def test_every_grant_there_is_exit_0():
    found = verdicts(CUSTOMER, OK, OK, OK)
    assert [v.outcome for v in found] == [Outcome.OK] * 3
    assert exit_code(found) == 0


@pytest.mark.parametrize("code", [7000229, 700016, 65001])
def test_no_consent_is_a_token_error_with_the_consent_link_and_nothing_else_tried(code):
    found = by_check(CUSTOMER, entra(code), None, None)
    assert found[TOKEN].outcome is Outcome.MISSING
    assert "admin consent is missing" in found[TOKEN].text and URL in found[TOKEN].text
    assert found[EXCHANGE].outcome is found[EVIDENCE].outcome is Outcome.SKIPPED
    assert exit_code(found.values()) == 1


@pytest.mark.parametrize(("code", "field"), [(700211, "issuer"), (700212, "audience"), (700213, "subject")])
def test_a_federated_credential_set_up_wrong_names_its_field_and_the_home_tenant(code, field):
    verdict = by_check(CUSTOMER, entra(code))[TOKEN]
    assert verdict.outcome is Outcome.MISSING
    assert f"its {field} is wrong" in verdict.text and "home tenant" in verdict.text
    assert URL not in verdict.text  # the customer's consent is not what is wrong


def test_a_token_that_got_no_answer_cannot_tell():
    found = by_check(CUSTOMER, Seen(text="could not reach the managed identity endpoint", answered=False))
    assert found[TOKEN].outcome is Outcome.UNKNOWN and exit_code(found.values()) == 2


@pytest.mark.parametrize("status", [401, 403])
def test_consent_without_an_exchange_role_is_exchanges_refusal_and_names_the_role_per_mode(status):
    refused = Seen(status=status, text="Access denied")
    report = by_check(CUSTOMER, OK, refused)[EXCHANGE]
    remediate = by_check(Reach(TENANT, APP, Mode.REMEDIATE, URL), OK, refused)[EXCHANGE]
    assert report.outcome is remediate.outcome is Outcome.MISSING
    assert "consent is there" in report.text and f"HTTP {status}" in report.text
    assert "assign Global Reader (report mode)" in report.text
    assert "assign Exchange Administrator (remediate mode)" in remediate.text
    assert f"New-ServicePrincipal -AppId {APP}" in report.text
    # Only a 401 can also be the app role missing from the consent.
    assert ("did not include Exchange.ManageAsApp" in report.text) is (status == 401)


def test_an_exchange_failure_that_is_no_refusal_cannot_tell():
    found = by_check(CUSTOMER, OK, Seen(status=503, text="Service Unavailable"))
    assert found[EXCHANGE].outcome is Outcome.UNKNOWN and exit_code(found.values()) == 2


def test_no_p1_is_evidence_unavailable_and_says_what_remediation_does_then():
    seen = Seen(
        status=403, code=NO_PREMIUM, text="Neither tenant is B2C or tenant doesn't have premium license"
    )
    verdict = by_check(CUSTOMER, OK, OK, seen)[EVIDENCE]
    assert verdict.outcome is Outcome.MISSING
    assert "evidence unavailable" in verdict.text and "no Entra ID P1" in verdict.text
    assert "WhenEvidenceUnavailable (hold" in verdict.text
    proceed = Reach(TENANT, APP, Mode.REMEDIATE, URL, EvidencePolicy.PROCEED)
    assert "(proceed: it fixes without usage evidence)" in by_check(proceed, OK, OK, seen)[EVIDENCE].text


def test_no_auditlog_permission_is_evidence_unavailable_and_names_both_permissions():
    seen = Seen(status=403, code="Authorization_RequestDenied", text="Insufficient privileges")
    verdict = by_check(CUSTOMER, OK, OK, seen)[EVIDENCE]
    assert verdict.outcome is Outcome.MISSING
    assert (
        "evidence unavailable" in verdict.text and "AuditLog.Read.All and Directory.Read.All" in verdict.text
    )
    assert "consents again at " + URL in verdict.text


def test_evidence_cut_short_cannot_tell():
    found = by_check(CUSTOMER, OK, OK, Seen(text="sign-in logs not read within 60 s"))
    assert found[EVIDENCE].outcome is Outcome.UNKNOWN and exit_code(found.values()) == 2


def test_something_missing_wins_over_something_unknown():
    found = verdicts(CUSTOMER, OK, Seen(status=503, text="down"), Seen(status=403, code=NO_PREMIUM))
    assert exit_code(found) == 1


def test_the_home_tenant_is_the_managed_identitys_grants_never_a_consent_link():
    found = by_check(HOME, OK, Seen(status=403, text="Access denied"))
    assert "managed identity the Exchange.ManageAsApp app role" in found[EXCHANGE].text
    assert "adminconsent" not in found[EXCHANGE].text and "8 hours" in found[EXCHANGE].text
    assert all("adminconsent" not in step for step in onboarding_steps(HOME, home=True))


def test_onboarding_steps_give_the_link_the_role_per_mode_and_the_graph_permissions():
    report = "\n".join(onboarding_steps(CUSTOMER, home=False))
    assert URL in report.split() and "assign Global Reader" in report and "AuditLog.Read.All" in report
    remediate = "\n".join(onboarding_steps(Reach(TENANT, APP, Mode.REMEDIATE, URL), home=False))
    assert "assign Exchange Administrator" in remediate


def test_aadsts_code_reads_the_first_code():
    assert aadsts_code("x AADSTS7000229: The client application ... AADSTS50000") == "7000229"
    assert aadsts_code("no code here") == ""


def test_the_onboard_and_verify_hints_are_commands_the_cli_parses():
    parser = build_parser()
    verify = parser.parse_args(shlex.split(tenant_verify(TENANT))[1:])
    assert (verify.action, verify.tenant) == ("verify", TENANT)
    onboard = tenant_onboard(TENANT).replace("DOMAIN", "fabrikam.onmicrosoft.com")
    assert parser.parse_args(shlex.split(onboard)[1:]).action == "onboard"
