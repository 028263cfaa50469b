"""Argument types and the errors and exit codes every command shares.

Each type wraps a core.validation check: what the row loader would refuse on the
next run is refused here, before anything is written."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import NoReturn, TypeVar

from shared.core.limits import Bounds
from shared.core.validation import (
    ValidationError,
    check_address,
    check_domain,
    check_tenant_id,
    check_text,
    check_webhook_setting,
    check_whole_number,
    is_domain,
    is_guid,
    split_addresses,
)
from shared.store.rows import RowError

EXIT_OK, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report a process ended by SIGINT (128 + 2)

# The settings a command reads (shell.settings.SettingsScope): a malformed one it does
# not read is a warning, not a stop. No command runs the timers, so none needs their
# schedules; the commands that only read and write rows need only where the rows are.
SCHEDULES = frozenset({"SMTPAUTH_SCHEDULE", "SMTPAUTH_DIGEST_SCHEDULE"})
ROWS = frozenset({"SMTPAUTH_TABLE_PREFIX", "SMTPAUTH_HOME_TENANT", "AZURE_CLIENT_ID"})


def needs_all(name: str) -> bool:
    return name not in SCHEDULES


def needs_rows(name: str) -> bool:
    return name in ROWS


class UsageError(Exception):
    """Bad input from the command line; the message says what and where."""


_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://\S*?(?=['\"]?(\s|$))")


class Parser(argparse.ArgumentParser):
    """argparse's parser, but its errors never repeat a URL: one typed into the wrong
    option (a webhook URL is a secret) would otherwise be echoed ("invalid choice: ...")."""

    def error(self, message: str) -> NoReturn:
        super().error(_URL.sub("<URL not shown>", message))


def refused(error: RowError, options: Mapping[str, str]) -> UsageError:
    """A row the loader would refuse, said as the option that set the field."""
    option = options.get(error.field or "")
    where = option if option else f"{error.field or 'the row'} (in the stored row)"
    return UsageError(f"{where}: {error.problem}; nothing was written")


T = TypeVar("T")


def arg(check: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a validation check."""

    def parse(value: str) -> T:
        try:
            return check(value)
        except ValidationError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def whole_number(bounds: Bounds) -> Callable[[str], int]:
    return arg(lambda text: check_whole_number(text, bounds))


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"expected a date YYYY-MM-DD, got {value!r}") from None


def _addresses(value: str) -> tuple[str, ...]:
    """One address or several separated by ``;`` or ``,`` (as the tenant row keeps them)."""
    found = tuple(check_address(part) for part in split_addresses(value))
    if not found:
        raise ValidationError("must be an email address")
    return found


def _tenant_guid(value: str) -> str:
    text = value.strip()
    if is_domain(text):
        raise ValidationError(
            "must be the tenant's GUID (its directory id), not a domain: give the domain with --domain"
        )
    if not is_guid(text):
        raise ValidationError(f"must be a tenant GUID, got {value!r}")
    return text.lower()


def _reason(value: str) -> str:
    text = check_text(value)
    if not text:
        raise ValidationError("must not be empty")
    return text


tenant_arg = arg(check_tenant_id)


def tenant_option(parser: argparse.ArgumentParser) -> None:
    """The required ``--tenant`` every per-tenant command takes, said one way."""
    parser.add_argument("--tenant", type=tenant_arg, required=True, help="GUID or initial domain")


tenant_guid_arg = arg(_tenant_guid)
address_arg = arg(check_address)
addresses_arg = arg(_addresses)
date_arg = arg(_date)
domain_arg = arg(check_domain)
reason_arg = arg(_reason)
text_arg = arg(check_text)
webhook_setting_arg = arg(check_webhook_setting)
