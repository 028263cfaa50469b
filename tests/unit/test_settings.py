from __future__ import annotations

import pytest

from shared.shell.settings import DEFAULT_EXCHANGE_URL, Settings, SettingsError

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
    assert s.storage.connection_string is None


def test_missing_storage_says_what_to_set():
    with pytest.raises(SettingsError, match="AzureWebJobsStorage"):
        Settings.from_env({})


@pytest.mark.parametrize(
    ("name", "value"), [("SMTPAUTH_TABLE_PREFIX", "bad-prefix"), ("SMTPAUTH_MAX_PARALLEL_TENANTS", "0")]
)
def test_bad_values_name_the_setting(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**AZURITE, name: value})
