"""Reading only what a command needs: the storage connection string, the identity
variables, and a malformed setting a command does not read."""

from __future__ import annotations

import pytest

from shared.adapters.credentials import IdentitySettingError, check_identity_env
from shared.core.validation import ValidationError, check_storage_connection_string
from shared.shell.settings import Settings, SettingsError, SettingsScope

AZURITE = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
KEY = "a2V5"


@pytest.mark.parametrize(
    "value",
    [
        "UseDevelopmentStorage=true",
        f"DefaultEndpointsProtocol=https;AccountName=guard;AccountKey={KEY};EndpointSuffix=core.windows.net",
        f"AccountName=guard;AccountKey={KEY}",  # the SDK's default: https, core.windows.net
        "AccountName=guard;SharedAccessSignature=sv=2024&sig=x;TableEndpoint=https://guard.table.core.windows.net",
        # Azurite as the tests start it: plain http, but on loopback.
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;",
        # http without a suffix: the SDK builds an https endpoint, so this is fine.
        f"DefaultEndpointsProtocol=http;AccountName=guard;AccountKey={KEY}",
    ],
)
def test_connection_strings_the_tables_sdk_reads_are_accepted(value):
    assert check_storage_connection_string(value) == value.strip()


@pytest.mark.parametrize(
    "value",
    ["foo", "AccountName=guard;AccountKey", f"AccountName=;AccountKey={KEY}", f"AccountKey={KEY}",
     "AccountName=guard", f"AccountName=guard;AccountKey={KEY};TableEndpoint=http://10.0.0.5/guard",
     f"AccountName=guard;AccountKey={KEY};TableEndpoint=https://guard.example/?sig=abc"],
)  # fmt: skip
def test_malformed_connection_strings_are_refused_without_the_key(value):
    with pytest.raises(ValidationError) as caught:
        check_storage_connection_string(value)
    assert KEY not in str(caught.value)


def test_settings_name_the_storage_setting():
    with pytest.raises(SettingsError, match=r"^AzureWebJobsStorage must be"):
        Settings.from_env({"AzureWebJobsStorage": "foo"})


def test_a_scope_keeps_what_its_command_does_not_need_as_a_complaint():
    env = {**AZURITE, "SMTPAUTH_DIGEST_SCHEDULE": "weekly", "SMTPAUTH_MAIL_SENDER": "nobody"}
    with pytest.raises(SettingsError, match="SMTPAUTH_DIGEST_SCHEDULE"):
        Settings.from_env(env)  # a plain mapping: every setting is needed (the timer)
    scope = SettingsScope(env, needs=lambda name: name == "SMTPAUTH_TABLE_PREFIX")
    settings = Settings.from_env(scope)
    assert settings.digest_schedule == Settings.digest_schedule  # the default
    assert settings.mail_sender is None
    assert sorted(str(p).split()[0] for p in scope.skipped) == [
        "SMTPAUTH_DIGEST_SCHEDULE",
        "SMTPAUTH_MAIL_SENDER",
    ]


def test_a_scope_still_refuses_what_its_command_needs():
    scope = SettingsScope({**AZURITE, "SMTPAUTH_TABLE_PREFIX": "bad-prefix"}, needs=lambda name: True)
    with pytest.raises(SettingsError, match="SMTPAUTH_TABLE_PREFIX"):
        Settings.from_env(scope)
    assert scope.skipped == []


@pytest.mark.parametrize(
    "env",
    [{}, {"IDENTITY_ENDPOINT": "http://127.0.0.1:41741/MSI/token/", "IDENTITY_HEADER": "h"},
     {"IDENTITY_ENDPOINT": "https://10.0.0.4:2377/metadata/identity/oauth2/token", "IDENTITY_HEADER": "h"},
     # Azure Arc sets IDENTITY_ENDPOINT with IMDS_ENDPOINT and no header, on purpose.
     {"IDENTITY_ENDPOINT": "http://localhost:40342/metadata/identity/oauth2/token",
      "IMDS_ENDPOINT": "http://localhost:40342"}],
)  # fmt: skip
def test_identity_variables_a_platform_sets_are_accepted(env):
    check_identity_env(env)


@pytest.mark.parametrize(
    ("env", "message"),
    [({"IDENTITY_ENDPOINT": "http://127.0.0.1:8081/msi/token"}, "IDENTITY_HEADER is not"),
     ({"IDENTITY_ENDPOINT": "http://10.0.0.4/msi/token", "IDENTITY_HEADER": "h"}, r"must be an https:// URL"),
     ({"IDENTITY_ENDPOINT": "not a url", "IDENTITY_HEADER": "h"}, r"^IDENTITY_ENDPOINT must")],
)  # fmt: skip
def test_identity_variables_no_credential_can_use_are_refused(env, message):
    with pytest.raises(IdentitySettingError, match=message):
        check_identity_env(env)
