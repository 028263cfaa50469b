from __future__ import annotations

import pytest

from shared.core.limits import DEFAULT_EXCHANGE_URL, DEFAULT_SCHEDULE, PARALLEL_TENANTS
from shared.shell.settings import Schedules, Settings, SettingsError

AZURITE = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def test_defaults():
    s = Settings.from_env(AZURITE)
    assert s.exchange_url == DEFAULT_EXCHANGE_URL
    assert s.schedule == "0 */15 * * * *"
    assert s.storage.connection_string == "UseDevelopmentStorage=true"


@pytest.mark.parametrize(
    "url",
    ["http://outlook.office365.com", "http://10.0.0.5:8080", "ftp://127.0.0.1", "https://user:pw@example.com",
     "https://example.com/?sig=abc", "not a url"],
)  # fmt: skip
def test_plain_http_only_for_loopback(url):
    with pytest.raises(SettingsError, match="SMTPAUTH_EXCHANGE_URL"):
        Settings.from_env({**AZURITE, "SMTPAUTH_EXCHANGE_URL": url})


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:5000", "http://localhost:1", "http://[::1]:2", "https://x.example/"]
)
def test_accepted_endpoints(url):
    assert Settings.from_env({**AZURITE, "SMTPAUTH_GRAPH_URL": url}).graph_url == url.rstrip("/")


def test_identity_based_storage_needs_no_key():
    s = Settings.from_env({"AzureWebJobsStorage__accountName": "guardstore"})
    assert s.storage.table_endpoint == "https://guardstore.table.core.windows.net"
    assert s.storage.queue_endpoint == "https://guardstore.queue.core.windows.net"
    assert s.storage.connection_string is None


def test_the_check_queue_endpoint_follows_the_table_endpoint_or_its_own_setting():
    uri = {"AzureWebJobsStorage__tableServiceUri": "https://guardstore.table.core.windows.net"}
    assert Settings.from_env(uri).storage.queue_endpoint == "https://guardstore.queue.core.windows.net"
    own = {**uri, "AzureWebJobsStorage__queueServiceUri": "https://other.queue.core.windows.net/"}
    assert Settings.from_env(own).storage.queue_endpoint == "https://other.queue.core.windows.net"
    with pytest.raises(SettingsError, match="AzureWebJobsStorage__queueServiceUri"):
        Settings.from_env({"AzureWebJobsStorage__tableServiceUri": "https://tables.example"})


@pytest.mark.parametrize("name", ["smtpauth-checks", "abc", "a1-b2"])
def test_check_queue_names_the_host_accepts(name):
    assert (
        Settings.from_env(
            {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "SMTPAUTH_CHECK_QUEUE": name}
        ).check_queue
        == name
    )


@pytest.mark.parametrize("name", ["ab", "Checks", "a--b", "-ab", "ab-", "a_b", "x" * 57])
def test_a_bad_check_queue_name_says_what_a_queue_name_is(name):
    with pytest.raises(SettingsError, match=r"^SMTPAUTH_CHECK_QUEUE must be a queue name"):
        Settings.from_env({"AzureWebJobsStorage": "UseDevelopmentStorage=true", "SMTPAUTH_CHECK_QUEUE": name})


def test_missing_storage_says_what_to_set():
    with pytest.raises(SettingsError, match="AzureWebJobsStorage"):
        Settings.from_env({})


@pytest.mark.parametrize(
    ("name", "value"),
    [("SMTPAUTH_TABLE_PREFIX", "bad-prefix"), ("SMTPAUTH_TABLE_PREFIX", "T" * 41),
     ("SMTPAUTH_MAX_PARALLEL_TENANTS", "0"), ("SMTPAUTH_MAX_PARALLEL_TENANTS", "33"),
     ("SMTPAUTH_MAX_PARALLEL_TENANTS", "four"), ("SMTPAUTH_HOME_TENANT", "not/a/tenant"),
     ("AZURE_CLIENT_ID", "my-identity"), ("SMTPAUTH_SCHEDULE", "every minute"),
     ("SMTPAUTH_SCHEDULE", "0 */15 * * *"), ("AzureWebJobsStorage__tableServiceUri", "http://x.example")],
)  # fmt: skip
def test_bad_values_name_the_setting(name, value):
    env = {**AZURITE, name: value}
    if name.startswith("AzureWebJobsStorage__"):
        env.pop("AzureWebJobsStorage")
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env)


def test_a_bad_schedule_is_a_settings_error_naming_it():
    with pytest.raises(SettingsError) as err:
        Schedules.from_env({"SMTPAUTH_SCHEDULE": "every minute"})
    assert str(err.value).startswith("SMTPAUTH_SCHEDULE must be an NCRONTAB expression with 6 fields")
    assert "'every minute'" in str(err.value)
    with pytest.raises(SettingsError, match=r"^SMTPAUTH_SCHEDULE .* the minute field '75'"):
        Schedules.from_env({"SMTPAUTH_SCHEDULE": "0 75 * * * *"})


def test_schedules_are_read_without_the_other_settings():
    # What the function app needs at indexing: no storage setting required.
    assert Schedules.from_env({}) == Schedules(DEFAULT_SCHEDULE, "0 0 7 * * 1")
    both = Schedules.from_env(
        {"SMTPAUTH_SCHEDULE": " 0 0 * * * * ", "SMTPAUTH_DIGEST_SCHEDULE": "0 0 8 * * Mon"}
    )
    assert both == Schedules("0 0 * * * *", "0 0 8 * * Mon")
    s = Settings.from_env({**AZURITE, "SMTPAUTH_SCHEDULE": "0 0 * * * *"})
    assert (s.schedule, s.digest_schedule) == ("0 0 * * * *", "0 0 7 * * 1")


def test_limits_come_from_one_place():
    s = Settings.from_env(AZURITE)
    assert s.max_parallel_tenants == PARALLEL_TENANTS.default == 4
    top = str(PARALLEL_TENANTS.high)
    assert Settings.from_env({**AZURITE, "SMTPAUTH_MAX_PARALLEL_TENANTS": top}).max_parallel_tenants == 32
    with pytest.raises(SettingsError) as err:
        Settings.from_env({**AZURITE, "SMTPAUTH_MAX_PARALLEL_TENANTS": "0"})
    assert str(err.value) == "SMTPAUTH_MAX_PARALLEL_TENANTS must be a whole number from 1 to 32, got '0'"


def test_identities_are_validated_and_kept():
    s = Settings.from_env(
        {
            **AZURITE,
            "SMTPAUTH_HOME_TENANT": " 5B1F3A2E-7C4D-4E8F-9A6B-0C1D2E3F4A5B ",
            "AZURE_CLIENT_ID": "6c1d3f0e-9b8a-4c7d-8e6f-5a4b3c2d1e0f",
        }
    )
    assert s.home_tenant == "5b1f3a2e-7c4d-4e8f-9a6b-0c1d2e3f4a5b"
    assert s.client_id == "6c1d3f0e-9b8a-4c7d-8e6f-5a4b3c2d1e0f"
    assert Settings.from_env({**AZURITE, "SMTPAUTH_HOME_TENANT": ""}).home_tenant is None


APP = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
UAMI = "6c1d3f0e-9b8a-4c7d-8e6f-5a4b3c2d1e0f"
HOME = "5b1f3a2e-7c4d-4e8f-9a6b-0c1d2e3f4a5b"


def test_the_multi_tenant_app_settings_are_read_and_checked_together():
    env = {**AZURITE, "SMTPAUTH_MULTITENANT_APP_ID": APP.upper(), "AZURE_CLIENT_ID": UAMI}
    s = Settings.from_env({**env, "SMTPAUTH_HOME_TENANT": HOME})
    assert (s.multitenant_app_id, s.token_exchange_audience, s.authority_host) == (
        APP,
        "api://AzureADTokenExchange",
        None,
    )
    with pytest.raises(SettingsError, match="needs SMTPAUTH_HOME_TENANT"):
        Settings.from_env(env)
    with pytest.raises(SettingsError, match="needs AZURE_CLIENT_ID: only a user-assigned"):
        Settings.from_env({**AZURITE, "SMTPAUTH_MULTITENANT_APP_ID": APP, "SMTPAUTH_HOME_TENANT": HOME})
    with pytest.raises(SettingsError, match=r"^SMTPAUTH_MULTITENANT_APP_ID must be an application"):
        Settings.from_env({**env, "SMTPAUTH_MULTITENANT_APP_ID": "my-app"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("api://azureadtokenexchangeusgov", "api://AzureADTokenExchangeUSGov"),
        ("api://AzureADTokenExchangeChina", "api://AzureADTokenExchangeChina"),
    ],
)
def test_a_sovereign_cloud_audience_is_accepted(value, expected):
    s = Settings.from_env({**AZURITE, "SMTPAUTH_TOKEN_EXCHANGE_AUDIENCE": value})
    assert s.token_exchange_audience == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMTPAUTH_TOKEN_EXCHANGE_AUDIENCE", "api://AzureADTokenExchangeMars"),
        ("AZURE_AUTHORITY_HOST", "http://127.0.0.1:8443"),  # azure-identity wants https even here
        ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/common"),
    ],
)
def test_bad_federation_values_name_the_setting(name, value):
    with pytest.raises(SettingsError, match=rf"^{name} must"):
        Settings.from_env({**AZURITE, name: value})


def test_the_authority_host_is_kept_without_its_slash():
    s = Settings.from_env({**AZURITE, "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.us/"})
    assert s.authority_host == "https://login.microsoftonline.us"
