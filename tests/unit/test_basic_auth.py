"""Basic SMTP AUTH: the default policy's verdict, whether it is open org-wide, and
the digest line that says so (the policy name is tenant text: cleaned)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.core.basic_auth import BASIC_AUTH_OFF, BasicAuthPolicy, auth_protocol, what_to_do
from shared.core.model import Status, TenantPolicy
from shared.notify.digest import TenantDigest, compose_digest
from shared.store.records import RunRecord
from shared.store.runs import basic_auth_columns

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
NONE = BasicAuthPolicy(True, None, True)
BLOCKS = BasicAuthPolicy(True, "Block Basic", False)
ALLOWS = BasicAuthPolicy(True, "Printers", True)
UNKNOWN = BasicAuthPolicy.unknown("HTTP 401: User is not allowed to call Get-OrganizationConfig")


@pytest.mark.parametrize(
    ("policy", "org_disabled", "state", "org_wide"),
    [
        (NONE, False, "allowed", True),
        (NONE, True, "allowed", False),  # the org switch keeps SMTP AUTH out
        (ALLOWS, False, "allowed", True),
        (BLOCKS, False, "blocked", False),
        (UNKNOWN, False, "unknown", None),  # never "not possible" on a failed read
        (UNKNOWN, True, "unknown", False),
        (NONE, None, "allowed", None),
    ],
)
def test_state_and_org_wide(policy, org_disabled, state, org_wide) -> None:
    assert policy.state == state
    assert policy.org_wide(org_disabled) is org_wide


def test_only_the_smtp_client_apps_say_basic() -> None:
    assert auth_protocol("Authenticated SMTP") == auth_protocol("SMTP") == "basic"
    assert auth_protocol("Browser") == ""


def test_the_date_and_the_way_out() -> None:
    assert BASIC_AUTH_OFF.isoformat() == "2026-12-31"
    todo = what_to_do()
    assert "OAuth SMTP AUTH" in todo and "High Volume Email" in todo and "relay connector" in todo
    assert todo.count("https://learn.microsoft.com/") == 3


@pytest.mark.parametrize("policy", [NONE, BLOCKS, UNKNOWN])
def test_the_run_row_keeps_it_for_the_digest(policy) -> None:
    entity = {
        "PartitionKey": "t",
        "RowKey": "r",
        "CheckedAt": NOW,
        "Status": "compliant",
        **basic_auth_columns(policy),
    }
    assert RunRecord.of(entity).basic_auth == policy
    assert basic_auth_columns(None) == {}


def test_the_digest_says_whether_basic_smtp_auth_is_possible() -> None:
    policy = TenantPolicy("t", "contoso.onmicrosoft.com")
    evil = BasicAuthPolicy(True, "Printers\u202e\nhttps://evil.example", True)
    digest = TenantDigest(policy, Status.COMPLIANT, NOW, NOW, org_actual=False, basic_auth=evil)
    facts = dict(compose_digest(digest, NOW).facts)
    assert facts["Basic SMTP AUTH"].startswith("allowed by the default authentication policy 'Printers")
    assert "possible org-wide" in facts["Basic SMTP AUTH"]
    assert "\u202e" not in facts["Basic SMTP AUTH"] and "\n" not in facts["Basic SMTP AUTH"]
    assert "https://evil" not in facts["Basic SMTP AUTH"]  # no clickable URL
    assert "Basic SMTP AUTH" not in dict(compose_digest(TenantDigest(policy, None, None, None), NOW).facts)
