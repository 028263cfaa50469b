"""Every app setting in one typed place, read once.

Names are the deployment contract (see README "Settings"); a bad value fails fast
with the setting's name in the message.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_EXCHANGE_URL = "https://outlook.office365.com"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
DEFAULT_SCHEDULE = "0 */15 * * * *"
DEFAULT_DIGEST_SCHEDULE = "0 0 7 * * 1"  # Mondays 07:00 UTC (NCRONTAB, with seconds)
DEFAULT_REMINDER_HOURS = 24.0
DEFAULT_NOTIFY_MAX_ATTEMPTS = 8
# Same shape as store.rows' check; not imported from there, which would pull Table
# Storage into the function app's cold start (it imports this module).
_ADDRESS = re.compile(r"^[^@\s]{1,64}@[^@\s]{3,253}$")


class SettingsError(ValueError):
    """An app setting is missing or malformed."""


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def endpoint_url(name: str, value: str) -> str:
    """An https URL, or plain http for a loopback host (simulator, Azurite)."""
    parts = urlsplit(value.strip())
    if (parts.scheme == "https" and parts.hostname) or (
        parts.scheme == "http" and is_loopback(parts.hostname)
    ):
        pass
    else:
        raise SettingsError(
            f"{name} must be an https:// URL (plain http:// only for loopback hosts), got {value!r}"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise SettingsError(f"{name} must not carry credentials, a query or a fragment")
    return value.strip().rstrip("/")


@dataclass(frozen=True)
class StorageSettings:
    """Where the tables live: a connection string, or an identity-based endpoint."""

    connection_string: str | None = None
    table_endpoint: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StorageSettings:
        conn = env.get("AzureWebJobsStorage", "").strip()
        if conn:
            return cls(connection_string=conn)
        # Identity-based connection, as the Functions host reads it (no keys).
        uri = env.get("AzureWebJobsStorage__tableServiceUri", "").strip()
        account = env.get("AzureWebJobsStorage__accountName", "").strip()
        if not uri and account:
            uri = f"https://{account}.table.core.windows.net"
        if not uri:
            raise SettingsError(
                "No storage configured: set AzureWebJobsStorage (UseDevelopmentStorage=true "
                "for Azurite) or AzureWebJobsStorage__accountName / __tableServiceUri"
            )
        return cls(table_endpoint=endpoint_url("AzureWebJobsStorage__tableServiceUri", uri))


@dataclass(frozen=True)
class Settings:
    storage: StorageSettings
    exchange_url: str = DEFAULT_EXCHANGE_URL
    graph_url: str = DEFAULT_GRAPH_URL
    schedule: str = DEFAULT_SCHEDULE
    home_tenant: str | None = None
    client_id: str | None = None
    table_prefix: str = "SmtpAuth"
    max_parallel_tenants: int = 4
    # Notifications (README "Notifications"): the mailbox mail is sent as; how long
    # open drift waits before a reminder (0 = never); how often a failed send is
    # tried before it is given up as dead; when the digest timer fires.
    mail_sender: str | None = None
    reminder_hours: float = DEFAULT_REMINDER_HOURS
    notify_max_attempts: int = DEFAULT_NOTIFY_MAX_ATTEMPTS
    digest_schedule: str = DEFAULT_DIGEST_SCHEDULE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        prefix = env.get("SMTPAUTH_TABLE_PREFIX", "SmtpAuth").strip()
        if not prefix.isalnum() or not prefix[0].isalpha() or len(prefix) > 40:
            raise SettingsError(
                f"SMTPAUTH_TABLE_PREFIX must be letters and digits, starting with a letter, got {prefix!r}"
            )
        parallel = env.get("SMTPAUTH_MAX_PARALLEL_TENANTS", "4").strip()
        if not parallel.isdigit() or not 1 <= int(parallel) <= 32:
            raise SettingsError(f"SMTPAUTH_MAX_PARALLEL_TENANTS must be 1..32, got {parallel!r}")
        return cls(
            storage=StorageSettings.from_env(env),
            exchange_url=endpoint_url(
                "SMTPAUTH_EXCHANGE_URL", env.get("SMTPAUTH_EXCHANGE_URL") or DEFAULT_EXCHANGE_URL
            ),
            graph_url=endpoint_url("SMTPAUTH_GRAPH_URL", env.get("SMTPAUTH_GRAPH_URL") or DEFAULT_GRAPH_URL),
            schedule=env.get("SMTPAUTH_SCHEDULE") or DEFAULT_SCHEDULE,
            home_tenant=(env.get("SMTPAUTH_HOME_TENANT") or "").strip() or None,
            client_id=(env.get("AZURE_CLIENT_ID") or "").strip() or None,
            table_prefix=prefix,
            max_parallel_tenants=int(parallel),
            mail_sender=_mail_sender(env),
            reminder_hours=_reminder_hours(env),
            notify_max_attempts=_max_attempts(env),
            digest_schedule=ncrontab("SMTPAUTH_DIGEST_SCHEDULE", env, DEFAULT_DIGEST_SCHEDULE),
        )


def _mail_sender(env: Mapping[str, str]) -> str | None:
    value = (env.get("SMTPAUTH_MAIL_SENDER") or "").strip()
    if value and not _ADDRESS.match(value):
        raise SettingsError(f"SMTPAUTH_MAIL_SENDER must be the sending mailbox's address, got {value!r}")
    return value or None


def _reminder_hours(env: Mapping[str, str]) -> float:
    text = (env.get("SMTPAUTH_REMINDER_HOURS") or "").strip()
    if not text:
        return DEFAULT_REMINDER_HOURS
    try:
        hours = float(text)
    except ValueError:
        hours = -1.0
    if not 0 <= hours <= 24 * 90:
        raise SettingsError(f"SMTPAUTH_REMINDER_HOURS must be 0 (no reminders) .. 2160, got {text!r}")
    return hours


def _max_attempts(env: Mapping[str, str]) -> int:
    text = (env.get("SMTPAUTH_NOTIFY_MAX_ATTEMPTS") or "").strip() or str(DEFAULT_NOTIFY_MAX_ATTEMPTS)
    if not text.isdigit() or not 1 <= int(text) <= 50:
        raise SettingsError(f"SMTPAUTH_NOTIFY_MAX_ATTEMPTS must be 1..50, got {text!r}")
    return int(text)


def ncrontab(name: str, env: Mapping[str, str], default: str) -> str:
    """A six-field NCRONTAB expression (seconds first), as the Functions timer reads it."""
    value = (env.get(name) or "").strip() or default
    if len(value.split()) != 6:
        raise SettingsError(
            f"{name} must be an NCRONTAB expression with 6 fields (sec min hour day month weekday), "
            f"got {value!r}"
        )
    return value
