"""Every app setting in one typed place, read once.

Names are the deployment contract (see README "Settings"); a bad value fails fast
with the setting's name in the message. What a value must look like, and every
limit and default, live in shared.core.validation and shared.core.limits, shared
with the desired-state rows and the CLI.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

from shared.core.limits import (
    CARD_MAX_KB,
    DEFAULT_CHECK_QUEUE,
    DEFAULT_DIGEST_SCHEDULE,
    DEFAULT_EXCHANGE_URL,
    DEFAULT_GRAPH_URL,
    DEFAULT_SCHEDULE,
    DEFAULT_TABLE_PREFIX,
    DEFAULT_TOKEN_EXCHANGE_AUDIENCE,
    EXCEPTION_DAYS,
    NOTIFY_MAX_ATTEMPTS,
    PARALLEL_TENANTS,
    REMINDER_HOURS,
    TABLE_PREFIX_MAX,
    Bounds,
)
from shared.core.validation import (
    ValidationError,
    check_addresses,
    check_app_id,
    check_authority_host,
    check_endpoint_url,
    check_ncrontab,
    check_number,
    check_queue_name,
    check_storage_connection_string,
    check_tenant_id,
    check_token_exchange_audience,
    check_webhook_setting,
    check_whole_number,
    is_address,
    is_guid,
)

T = TypeVar("T")


class SettingsError(ValueError):
    """An app setting is missing or malformed."""


def _named(name: str, check: Callable[[str], T], value: str) -> T:
    """``check(value)``, its complaint prefixed with the setting's name."""
    try:
        return check(value)
    except ValidationError as exc:
        raise SettingsError(f"{name} {exc}") from None


class SettingsScope(Mapping[str, str]):
    """The environment as one command reads it: a malformed setting the command does
    not need (``needs(name)`` is false) takes its default and its complaint is kept in
    ``skipped`` instead of stopping the command (a bad digest schedule must not stop
    ``tenant list``). Pass it to ``Settings.from_env``; a plain mapping needs them all."""

    def __init__(self, env: Mapping[str, str], needs: Callable[[str], bool]) -> None:
        self._env = env
        self.needs = needs
        self.skipped: list[SettingsError] = []

    def __getitem__(self, name: str) -> str:
        return self._env[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)


def _scoped(env: Mapping[str, str], name: str, read: Callable[[], T], fallback: Callable[[], T]) -> T:
    try:
        return read()
    except SettingsError as exc:
        if isinstance(env, SettingsScope) and not env.needs(name):
            env.skipped.append(exc)
            return fallback()
        raise


def _setting(env: Mapping[str, str], name: str, check: Callable[[str], T], default: str) -> T:
    """The setting, or its default when unset or blank, through ``check``."""
    return _scoped(
        env,
        name,
        lambda: _named(name, check, (env.get(name) or "").strip() or default),
        lambda: check(default),
    )


def _optional(env: Mapping[str, str], name: str, check: Callable[[str], T]) -> T | None:
    text = (env.get(name) or "").strip()
    return _scoped(env, name, lambda: _named(name, check, text) if text else None, lambda: None)


def _bounded(env: Mapping[str, str], name: str, bounds: Bounds) -> int:
    return _setting(env, name, lambda text: check_whole_number(text, bounds), str(bounds.default))


@dataclass(frozen=True)
class Schedules:
    """The two timers' NCRONTAB schedules, read apart from the other settings: the
    function app needs them while the host indexes functions, and a bad one must
    stop it there with the setting's name (see function_app.py)."""

    check: str = DEFAULT_SCHEDULE
    digest: str = DEFAULT_DIGEST_SCHEDULE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Schedules:
        env = os.environ if env is None else env
        return cls(
            check=_setting(env, "SMTPAUTH_SCHEDULE", check_ncrontab, DEFAULT_SCHEDULE),
            digest=_setting(env, "SMTPAUTH_DIGEST_SCHEDULE", check_ncrontab, DEFAULT_DIGEST_SCHEDULE),
        )


def check_queue_setting(env: Mapping[str, str] | None = None) -> str:
    """SMTPAUTH_CHECK_QUEUE, the fan-out queue's name. Read when the host indexes the
    functions too (the queue triggers name it), so a bad one stops indexing there."""
    env = os.environ if env is None else env
    return _setting(env, "SMTPAUTH_CHECK_QUEUE", check_queue_name, DEFAULT_CHECK_QUEUE)


@dataclass(frozen=True)
class StorageSettings:
    """Where the tables and queues live: a connection string, or identity-based
    endpoints (the same ``AzureWebJobsStorage__*`` settings the host's queue trigger reads)."""

    connection_string: str | None = None
    table_endpoint: str | None = None
    queue_endpoint: str | None = None

    @property
    def setting(self) -> str:
        """The app setting this came from, for messages that say what to fix."""
        return "AzureWebJobsStorage" if self.connection_string else "AzureWebJobsStorage__accountName"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StorageSettings:
        conn = env.get("AzureWebJobsStorage", "").strip()
        if conn:
            return cls(connection_string=_named("AzureWebJobsStorage", check_storage_connection_string, conn))
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
        table = _named("AzureWebJobsStorage__tableServiceUri", check_endpoint_url, uri)
        queue = env.get("AzureWebJobsStorage__queueServiceUri", "").strip()
        if not queue and account:
            queue = f"https://{account}.queue.core.windows.net"
        if not queue and ".table." in uri:
            queue = uri.replace(".table.", ".queue.", 1)  # the same account's queue service
        if not queue:
            raise SettingsError(
                "No queue endpoint for the check queue: set AzureWebJobsStorage__queueServiceUri "
                "(the queue trigger reads it too) or AzureWebJobsStorage__accountName"
            )
        return cls(
            table_endpoint=table,
            queue_endpoint=_named("AzureWebJobsStorage__queueServiceUri", check_endpoint_url, queue),
        )


@dataclass(frozen=True)
class Settings:
    storage: StorageSettings
    exchange_url: str = DEFAULT_EXCHANGE_URL
    graph_url: str = DEFAULT_GRAPH_URL
    schedule: str = DEFAULT_SCHEDULE
    home_tenant: str | None = None
    client_id: str | None = None
    table_prefix: str = DEFAULT_TABLE_PREFIX
    max_parallel_tenants: int = PARALLEL_TENANTS.default
    # Notifications (README "Notifications"): the mailbox mail is sent as; how long
    # open drift waits before a reminder (0 = never); how often a failed send is
    # tried before it is given up as dead; when the digest timer fires.
    mail_sender: str | None = None
    reminder_hours: float = REMINDER_HOURS.default
    notify_max_attempts: int = NOTIFY_MAX_ATTEMPTS.default
    digest_schedule: str = DEFAULT_DIGEST_SCHEDULE
    card_max_kb: int = CARD_MAX_KB.default  # the Teams card's budget
    check_queue: str = DEFAULT_CHECK_QUEUE  # the fan-out queue (its poison queue: + "-poison")
    # Operators: told when any tenant cannot be checked (its row broken included),
    # wherever its own row sends; the Teams one is the NAME of the webhook's setting.
    ops_email: tuple[str, ...] = ()
    ops_teams_setting: str | None = None
    # The longest an exception may be approved for when the CLI writes it, in days.
    max_exception_days: int = EXCEPTION_DAYS.default
    # Customer tenants (docs/tenants.md): the multi-tenant app that trusts the managed
    # identity, the audience of the identity's token it trusts (per cloud), and the
    # Entra host (azure-identity's own AZURE_AUTHORITY_HOST; None = the public cloud).
    multitenant_app_id: str | None = None
    token_exchange_audience: str = DEFAULT_TOKEN_EXCHANGE_AUDIENCE
    authority_host: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        schedules = Schedules.from_env(env)
        app_id, audience, authority = _federation(env)
        return cls(
            storage=StorageSettings.from_env(env),
            exchange_url=_setting(env, "SMTPAUTH_EXCHANGE_URL", check_endpoint_url, DEFAULT_EXCHANGE_URL),
            graph_url=_setting(env, "SMTPAUTH_GRAPH_URL", check_endpoint_url, DEFAULT_GRAPH_URL),
            schedule=schedules.check,
            home_tenant=_optional(env, "SMTPAUTH_HOME_TENANT", check_tenant_id),
            client_id=_optional(env, "AZURE_CLIENT_ID", _client_id),
            table_prefix=_setting(env, "SMTPAUTH_TABLE_PREFIX", _table_prefix, DEFAULT_TABLE_PREFIX),
            max_parallel_tenants=_bounded(env, "SMTPAUTH_MAX_PARALLEL_TENANTS", PARALLEL_TENANTS),
            mail_sender=_optional(env, "SMTPAUTH_MAIL_SENDER", _mail_sender),
            reminder_hours=_setting(
                env,
                "SMTPAUTH_REMINDER_HOURS",
                lambda text: check_number(text, REMINDER_HOURS),
                str(REMINDER_HOURS.default),
            ),
            notify_max_attempts=_bounded(env, "SMTPAUTH_NOTIFY_MAX_ATTEMPTS", NOTIFY_MAX_ATTEMPTS),
            digest_schedule=schedules.digest,
            card_max_kb=_bounded(env, "SMTPAUTH_CARD_MAX_KB", CARD_MAX_KB),
            check_queue=check_queue_setting(env),
            ops_email=_optional(env, "SMTPAUTH_OPS_EMAIL", check_addresses) or (),
            ops_teams_setting=_optional(env, "SMTPAUTH_OPS_TEAMS_WEBHOOK_SETTING", check_webhook_setting),
            max_exception_days=_bounded(env, "SMTPAUTH_MAX_EXCEPTION_DAYS", EXCEPTION_DAYS),
            multitenant_app_id=app_id,
            token_exchange_audience=audience,
            authority_host=authority,
        )


def _federation(env: Mapping[str, str]) -> tuple[str | None, str, str | None]:
    """The multi-tenant app settings, checked together: the app is reached through the
    user-assigned identity's federated credential, so it needs that identity, and the
    home tenant is the one the identity itself reads."""
    app_id = _optional(env, "SMTPAUTH_MULTITENANT_APP_ID", check_app_id)
    if app_id is not None:
        if not (env.get("AZURE_CLIENT_ID") or "").strip():
            raise SettingsError(
                "SMTPAUTH_MULTITENANT_APP_ID needs AZURE_CLIENT_ID: only a user-assigned managed "
                "identity can be the app's federated credential"
            )
        if not (env.get("SMTPAUTH_HOME_TENANT") or "").strip():
            raise SettingsError(
                "SMTPAUTH_MULTITENANT_APP_ID needs SMTPAUTH_HOME_TENANT, the tenant the managed "
                "identity lives in (read with the identity itself; every other tenant through the app)"
            )
    audience = _setting(
        env,
        "SMTPAUTH_TOKEN_EXCHANGE_AUDIENCE",
        check_token_exchange_audience,
        DEFAULT_TOKEN_EXCHANGE_AUDIENCE,
    )
    return app_id, audience, _optional(env, "AZURE_AUTHORITY_HOST", check_authority_host)


def _table_prefix(value: str) -> str:
    if not (value.isascii() and value.isalnum() and value[0].isalpha() and len(value) <= TABLE_PREFIX_MAX):
        raise ValidationError(
            f"must be letters and digits, starting with a letter, at most {TABLE_PREFIX_MAX} "
            f"characters, got {value!r}"
        )
    return value


def _client_id(value: str) -> str:
    if not is_guid(value):
        raise ValidationError(
            f"must be the client id (a GUID) of a user-assigned managed identity, got {value!r}"
        )
    return value


def _mail_sender(value: str) -> str:
    if not is_address(value):
        raise ValidationError(f"must be the sending mailbox's address, got {value!r}")
    return value
