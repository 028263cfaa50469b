"""A broken row still reaches a person: the row loader keeps the recipients and the
exceptions that parse, and the operators' settings add copies of could-not-check
messages, never a second copy to someone already reached."""

from __future__ import annotations

import pytest

from shared.core.delivery import Channel, Target
from shared.core.model import Recipients, Status
from shared.notify.events import Memory, derive
from shared.notify.outbox_rules import ops_targets, targets, tells_ops, with_ops
from shared.shell.settings import Settings, SettingsError
from shared.store.rows import group_policies

from .notify_values import findings, result

T = "8f6a3c1e-2b4d-4e5f-9a0b-1c2d3e4f5a6b"
G = "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a"
AZURITE = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
OPS = ops_targets(("noc@msp.example",), "OPS_TEAMS_HOOK")


def tenant_row(**over):
    return {"PartitionKey": T, "RowKey": "tenant", "InitialDomain": "contoso.onmicrosoft.com", **over}


EXCEPTION = {
    "PartitionKey": T,
    "RowKey": f"exception:{G}",
    "Mailbox": "scanner@contoso.com",
    "MailboxGuid": G,
    "Reason": "MFP on floor 3",
    "Approver": "ciso@contoso.com",
    "Expires": "2027-03-31",
}


def test_a_broken_tenant_row_keeps_the_recipients_and_exceptions_that_parse():
    broken = tenant_row(
        Mode="remidiate", NotifyEmail="secops@contoso.com; not-an-address", NotifyTeamsWebhookSetting="HOOK"
    )
    (load,) = group_policies([broken, EXCEPTION])
    assert load.policy is None and "field 'Mode'" in load.errors[0]
    assert load.recipients == Recipients(("secops@contoso.com",), "HOOK")
    assert [e.mailbox for e in load.exceptions] == ["scanner@contoso.com"]
    assert targets(load.recipients) == (
        Target(Channel.TEAMS, "HOOK"),
        Target(Channel.EMAIL, "secops@contoso.com"),
    )


def test_recipients_that_do_not_parse_are_left_out():
    (load,) = group_policies(
        [tenant_row(Mode=7, NotifyEmail=42, NotifyTeamsWebhookSetting="https://x.example/")]
    )
    assert load.policy is None and load.recipients is None
    (only_exceptions,) = group_policies([EXCEPTION])
    assert only_exceptions.recipients is None and len(only_exceptions.exceptions) == 1


def test_ops_settings_are_validated_and_named():
    s = Settings.from_env(
        {
            **AZURITE,
            "SMTPAUTH_OPS_EMAIL": "noc@msp.example; oncall@msp.example",
            "SMTPAUTH_OPS_TEAMS_WEBHOOK_SETTING": "OPS_HOOK",
        }
    )
    assert s.ops_email == ("noc@msp.example", "oncall@msp.example") and s.ops_teams_setting == "OPS_HOOK"
    assert Settings.from_env(AZURITE).ops_email == () and Settings.from_env(AZURITE).ops_teams_setting is None
    with pytest.raises(SettingsError, match=r"SMTPAUTH_OPS_EMAIL .*'noc' is not an address"):
        Settings.from_env({**AZURITE, "SMTPAUTH_OPS_EMAIL": "noc"})
    with pytest.raises(SettingsError, match="SMTPAUTH_OPS_TEAMS_WEBHOOK_SETTING must be the NAME"):
        Settings.from_env(
            {**AZURITE, "SMTPAUTH_OPS_TEAMS_WEBHOOK_SETTING": "https://prod.logic.azure.com/x?sig=1"}
        )


def test_ops_copies_never_repeat_a_recipient_the_tenant_reaches():
    own = (Target(Channel.TEAMS, "OPS_TEAMS_HOOK"), Target(Channel.EMAIL, "NOC@msp.example;it@contoso.com"))
    assert with_ops(own, OPS) == own
    mixed = ops_targets(("noc@msp.example", "oncall@msp.example"), None)
    assert with_ops(own, mixed) == (*own, Target(Channel.EMAIL, "oncall@msp.example", ops=True))
    assert with_ops((), OPS) == OPS


def test_operators_hear_could_not_check_its_reminders_and_recovery_only():
    def events(r):
        return derive(r, Memory(), first_seen={}, remind_every=None)

    assert tells_ops(events(result(error="desired state is malformed: ...", previous=None)))
    assert tells_ops(events(result(previous=Status.ERROR)))  # checks work again
    drift = events(result(findings("a@contoso.com")))
    assert drift and not tells_ops(drift)
