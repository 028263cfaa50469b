"""Desired-state rows: validation errors name tenant, row and field."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shared.core.model import Mode
from shared.store.rows import (
    RowError,
    exception_entity,
    group_policies,
    parse_exception_row,
    parse_tenant_row,
    tenant_entity,
)

T = "8f6a3c1e-2b4d-4e5f-9a0b-1c2d3e4f5a6b"
G = "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a"


def tenant_row(**over):
    return {"PartitionKey": T, "RowKey": "tenant", "InitialDomain": "contoso.onmicrosoft.com", **over}


def exc_row(**over):
    return {
        "PartitionKey": T,
        "RowKey": f"exception:{G}",
        "Mailbox": "Scanner@Contoso.com",
        "MailboxGuid": G,
        "Reason": "MFP on floor 3",
        "Approver": "ciso@contoso.com",
        "Expires": "2027-03-31",
        **over,
    }


def test_minimal_tenant_row_gets_policy_defaults():
    policy = parse_tenant_row(tenant_row())
    assert policy.desired_org_disabled is True
    assert policy.mode is Mode.REPORT
    assert policy.enabled is True


def test_storage_explorer_strings_are_accepted():
    policy = parse_tenant_row(
        tenant_row(Enabled="FALSE", SmtpClientAuthenticationDisabled="true", Mode="Remediate")
    )
    assert (policy.enabled, policy.desired_org_disabled, policy.mode) == (False, True, Mode.REMEDIATE)


@pytest.mark.parametrize(
    ("override", "field", "problem"),
    [
        ({"Mode": "fix-it"}, "Mode", "'report' or 'remediate'"),
        ({"Enabled": "yes"}, "Enabled", "true or false"),
        ({"InitialDomain": ""}, "InitialDomain", "required"),
        ({"InitialDomain": "not a domain"}, "InitialDomain", "must be a domain"),
        ({"NotifyEmail": "ops@contoso.com; nobody"}, "NotifyEmail", "'nobody' is not an email"),
        ({"NotifyTeamsWebhookSetting": "https://x.example/sig=abc"}, "NotifyTeamsWebhookSetting", "NAME"),
        ({"PartitionKey": "not/a/tenant"}, "PartitionKey", "GUID or a domain"),
        ({"IntervalMinutes": 10081}, "IntervalMinutes", "0 to 10080 (0: every timer tick)"),
        ({"IntervalMinutes": "hourly"}, "IntervalMinutes", "whole number"),
    ],
)
def test_bad_tenant_rows_say_where_and_what(override, field, problem):
    with pytest.raises(RowError) as err:
        parse_tenant_row(tenant_row(**override))
    assert err.value.field == field
    assert problem in str(err.value)
    assert "row 'tenant'" in str(err.value)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"Mailbox": None}, "Mailbox"),
        ({"Mailbox": "scanner"}, "Mailbox"),
        ({"MailboxGuid": "1234"}, "MailboxGuid"),
        ({"Reason": "  "}, "Reason"),
        ({"Approver": "the boss"}, "Approver"),
        ({"Expires": "31/03/2027"}, "Expires"),
        ({"Expires": None}, "Expires"),
        ({"Reason": 42}, "Reason"),
    ],
)
def test_bad_exception_rows_say_where_and_what(override, field):
    with pytest.raises(RowError) as err:
        parse_exception_row(exc_row(**override))
    assert err.value.field == field
    assert err.value.tenant == T and err.value.row == f"exception:{G}"


def test_expires_may_be_a_datetime_typed_cell():
    exc = parse_exception_row(exc_row(Expires=datetime(2027, 3, 31, tzinfo=UTC)))
    assert exc.expires == date(2027, 3, 31)
    assert exc.mailbox == "scanner@contoso.com"


def test_one_bad_row_spoils_only_its_tenant():
    other = "contoso2.onmicrosoft.com"
    loads = group_policies(
        [
            tenant_row(),
            exc_row(Approver="nobody"),
            exc_row(RowKey="exception:x", MailboxGuid=None, Mailbox="printer@contoso.com"),
            tenant_row(PartitionKey=other, InitialDomain=other),
        ]
    )
    by_id = {load.tenant_id: load for load in loads}
    assert not by_id[T].ok and "field 'Approver'" in by_id[T].errors[0]
    assert by_id[other].ok and by_id[other].policy.exceptions == ()


def test_exceptions_without_tenant_row_and_unknown_rows_are_errors():
    loads = group_policies([exc_row(), {"PartitionKey": T, "RowKey": "note"}])
    (load,) = loads
    assert load.policy is None
    assert any("RowKey" in e for e in load.errors)
    assert any("no 'tenant' row" in e for e in load.errors)


def test_interval_defaults_to_every_tick_and_takes_storage_explorer_digits():
    assert parse_tenant_row(tenant_row()).interval_minutes == 0
    assert parse_tenant_row(tenant_row(IntervalMinutes="60")).interval_minutes == 60
    policy = parse_tenant_row(tenant_row(IntervalMinutes=60))
    assert parse_tenant_row(tenant_entity(policy)).interval_minutes == 60


def test_entities_round_trip():
    policy = parse_tenant_row(tenant_row(NotifyEmail="a@contoso.com;b@contoso.com", Mode="remediate"))
    assert parse_tenant_row(tenant_entity(policy)) == policy
    exc = parse_exception_row(exc_row(Ticket="CHG-1"))
    assert parse_exception_row(exception_entity(T, exc)) == exc


def test_a_bad_recipient_still_leaves_the_valid_ones_to_tell_of_the_error():
    (load,) = group_policies([tenant_row(NotifyEmail="secops@contoso.com; not-an-address")])
    assert not load.ok and "field 'NotifyEmail'" in load.errors[0]
    assert load.policy is not None and load.policy.notify_email == ("secops@contoso.com",)
    (load,) = group_policies(
        [tenant_row(NotifyTeamsWebhookSetting="https://x.example/?sig=1", NotifyEmail="a@b.com")]
    )
    assert (
        not load.ok and load.policy.notify_teams_setting is None and load.policy.notify_email == ("a@b.com",)
    )


def test_a_tenant_row_may_name_its_own_app_and_keeps_it_through_a_rewrite():
    app = "9A8B7C6D-5E4F-4A3B-8C2D-1E0F9A8B7C6D"
    policy = parse_tenant_row(tenant_row(AppId=f" {app} "))
    assert policy.app_id == app.lower()
    assert tenant_entity(policy)["AppId"] == app.lower()
    assert parse_tenant_row(tenant_row(AppId="")).app_id is None
    # Unset, the column is not written: a merge keeps what onboarding recorded.
    assert "AppId" not in tenant_entity(parse_tenant_row(tenant_row()))
    with pytest.raises(RowError, match=r"field 'AppId': must be an application \(client\) id"):
        parse_tenant_row(tenant_row(AppId="contoso-app"))
