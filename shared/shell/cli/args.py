"""Argument types and the errors and exit codes every command shares.

Each type wraps a core.validation check: what the row loader would refuse on the
next run is refused here, before anything is written."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from typing import TypeVar

from shared.core.limits import Bounds
from shared.core.validation import (
    ValidationError,
    check_domain,
    check_tenant_id,
    check_text,
    check_webhook_setting,
    check_whole_number,
    is_address,
)

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


def _address(value: str) -> str:
    if not is_address(value.strip()):
        raise ValidationError(f"expected an email address, got {value!r}")
    return value.strip()


def _reason(value: str) -> str:
    text = check_text(value)
    if not text:
        raise ValidationError("must not be empty")
    return text


tenant_arg = arg(check_tenant_id)
address_arg = arg(_address)
date_arg = arg(_date)
domain_arg = arg(check_domain)
reason_arg = arg(_reason)
text_arg = arg(check_text)
webhook_setting_arg = arg(check_webhook_setting)
