"""The shape of every value a person types: app settings, desired-state rows, CLI
arguments. One definition each, so the three always agree.

Stdlib only: the function app imports this while the host indexes functions.
``is_*`` answer yes or no; ``check_*`` return the value cleaned up or raise
ValidationError saying what it must be ("must be ..., got ..."). The caller says
where: SettingsError names the setting, RowError the row and field, the CLI the option.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date, timedelta
from urllib.parse import SplitResult, urlsplit

from shared.core.limits import QUEUE_NAME_MAX, TEXT_MAX, TOKEN_EXCHANGE_AUDIENCES, Bounds


class ValidationError(ValueError):
    """A value has the wrong shape; the message says what it must be."""


# Each is used with fullmatch: with match, "$" would also accept a trailing newline.
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DOMAIN = re.compile(r"^(?=.{3,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$")
# Deliberately loose (RFC 5321 lengths, one @, no spaces): Exchange is the judge of
# what a mailbox is; this only catches a name typed where an address belongs.
_ADDRESS = re.compile(r"^[^@\s]{1,64}@[^@\s]{3,253}$")
# App setting names as the Functions host reads them from the environment.
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_DIGITS = re.compile(r"^[0-9]+$")
# Storage queue names: lower-case letters, digits, single hyphens, not at either end.
_QUEUE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]$")


def is_guid(value: str) -> bool:
    return bool(_GUID.fullmatch(value))


def is_domain(value: str) -> bool:
    return bool(_DOMAIN.fullmatch(value))


def is_address(value: str) -> bool:
    return bool(_ADDRESS.fullmatch(value))


def is_setting_name(value: str) -> bool:
    return bool(_SETTING_NAME.fullmatch(value))


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_tenant_id(value: str) -> str:
    """A tenant's GUID or initial domain, lower case (the desired-state partition key)."""
    text = value.strip()
    if not (is_guid(text) or is_domain(text)):
        raise ValidationError(f"must be a tenant GUID or a domain, got {value!r}")
    return text.lower()


def check_domain(value: str) -> str:
    """A DNS domain such as a tenant's initial domain, lower case."""
    text = value.strip()
    if not is_domain(text):
        raise ValidationError(f"must be a domain like contoso.onmicrosoft.com, got {value!r}")
    return text.lower()


def check_addresses(value: str) -> tuple[str, ...]:
    """One or more email addresses separated by ';' (or ','), as a tenant row's
    NotifyEmail takes them."""
    parts = tuple(part.strip() for part in re.split(r"[;,]", value) if part.strip())
    bad = [part for part in parts if not is_address(part)]
    if bad or not parts:
        raise ValidationError(
            f"must be email addresses separated by ';', got {value!r}"
            + (f" ({bad[0]!r} is not an address)" if bad else "")
        )
    return parts


def check_webhook_setting(value: str) -> str:
    """The name of the app setting holding a webhook URL: never the URL, a secret."""
    text = value.strip()
    if not is_setting_name(text):
        raise ValidationError(
            "must be the NAME of an app setting that holds the webhook URL (letters, digits, _), "
            "never the URL itself"
        )
    return text


def _split_url(text: str, refused: ValidationError) -> tuple[SplitResult, str | None]:
    """The URL's parts and host, or ``refused`` for text urlsplit cannot read."""
    try:
        parts = urlsplit(text)
        return parts, parts.hostname
    except ValueError:  # e.g. an unclosed [ in an IPv6 host
        raise refused from None


def check_endpoint_url(value: str) -> str:
    """An https URL, or plain http for a loopback host (the simulator, Azurite), with
    no credentials, query or fragment; without its trailing slash."""
    text = value.strip()
    refused = ValidationError(
        f"must be an https:// URL (plain http:// only for loopback hosts), got {value!r}"
    )
    parts, host = _split_url(text, refused)
    if not host or not (parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))):
        raise refused
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValidationError("must not carry credentials, a query or a fragment")
    return text.rstrip("/")


def check_queue_name(value: str) -> str:
    """A Storage queue name that still fits the host's ``-poison`` suffix."""
    text = value.strip()
    if not (3 <= len(text) <= QUEUE_NAME_MAX and _QUEUE_NAME.fullmatch(text)):
        raise ValidationError(
            f"must be a queue name: 3 to {QUEUE_NAME_MAX} lower-case letters, digits and single "
            f"hyphens, not starting or ending with one (room is left for '-poison'), got {value!r}"
        )
    return text


def check_storage_connection_string(value: str) -> str:
    """A storage connection string as the Tables SDK reads it: ``UseDevelopmentStorage=true``
    (Azurite), or ``Name=value`` pairs separated by ``;`` with AccountName and AccountKey
    (or SharedAccessSignature), whose table endpoint passes check_endpoint_url. The
    complaint never shows the value: it holds a key."""
    text = value.strip()
    if text.lower() == "usedevelopmentstorage=true":
        return text
    pairs = [part.split("=", 1) for part in text.rstrip(";").split(";")]
    if any(len(pair) != 2 or not all(pair) for pair in pairs):
        raise ValidationError(
            "must be UseDevelopmentStorage=true or Name=value pairs separated by ';' "
            "(the value is not shown: it holds a key)"
        )
    fields: dict[str, str] = {}
    for name, item in pairs:
        if name.lower() in fields:
            raise ValidationError(f"names {name!r} twice")
        fields[name.lower()] = item
    if "accountname" not in fields or not {"accountkey", "sharedaccesssignature"} & fields.keys():
        raise ValidationError("must name AccountName and AccountKey (or SharedAccessSignature)")
    # The table endpoint the SDK would derive (azure-data-tables parse_connection_str).
    endpoint = fields.get("tableendpoint")
    if endpoint is None and "defaultendpointsprotocol" in fields and "endpointsuffix" in fields:
        endpoint = (
            f"{fields['defaultendpointsprotocol']}://{fields['accountname']}.table.{fields['endpointsuffix']}"
        )
    if endpoint is None:
        endpoint = f"https://{fields['accountname']}.table.{fields.get('endpointsuffix', 'core.windows.net')}"
    for service, url in (("table", endpoint), ("queue", fields.get("queueendpoint"))):
        try:
            if url is not None:
                check_endpoint_url(url)
        except ValidationError as exc:
            raise ValidationError(f"has a {service} endpoint that {exc}") from None
    return text


def split_addresses(text: str) -> tuple[str, ...]:
    """A recipient list as the tenant row keeps it: addresses separated by ``;`` or ``,``."""
    return tuple(part.strip() for part in re.split(r"[;,]", text) if part.strip())


def check_address(value: str) -> str:
    """One email address, without surrounding blanks. A URL is refused without being
    repeated: a webhook URL pasted here is a secret."""
    text = value.strip()
    if "://" in text:
        raise ValidationError(
            "must be an email address, not a URL (a webhook URL is a secret: never type it here)"
        )
    if not is_address(text):
        raise ValidationError(f"{value!r} is not an email address")
    return text


def check_expiry(expires: date, today: date, max_days: int) -> date:
    """An exception's last day: not in the past, and at most ``max_days`` from today
    (an approval is re-confirmed at least that often)."""
    if expires < today:
        raise ValidationError(f"{expires} is in the past (today is {today} UTC)")
    latest = today + timedelta(days=max_days)
    if expires > latest:
        raise ValidationError(
            f"{expires} is more than {max_days} days away (SMTPAUTH_MAX_EXCEPTION_DAYS); "
            f"the latest allowed today is {latest}"
        )
    return expires


def check_app_id(value: str) -> str:
    """An app registration's application (client) id: a GUID, lower case."""
    text = value.strip()
    if not is_guid(text):
        raise ValidationError(f"must be an application (client) id, a GUID, got {value!r}")
    return text.lower()


def check_token_exchange_audience(value: str) -> str:
    """One of the clouds' token exchange audiences, exactly as Entra spells it."""
    text = value.strip()
    for audience in TOKEN_EXCHANGE_AUDIENCES:
        if text.lower() == audience.lower():
            return audience
    raise ValidationError(f"must be one of {', '.join(TOKEN_EXCHANGE_AUDIENCES)}, got {value!r}")


def check_authority_host(value: str) -> str:
    """The Entra sign-in host, https only (azure-identity refuses anything else, also
    on loopback), e.g. https://login.microsoftonline.us; without a trailing slash."""
    text = value.strip()
    refused = ValidationError(
        f"must be an https:// host such as https://login.microsoftonline.com, got {value!r}"
    )
    parts, host = _split_url(text, refused)
    if not host or parts.scheme != "https":
        raise refused
    if parts.username or parts.password or parts.query or parts.fragment or parts.path.strip("/"):
        raise ValidationError(
            f"must be the host only (no path, credentials, query or fragment), got {value!r}"
        )
    return text.rstrip("/")


def check_whole_number(value: object, bounds: Bounds) -> int:
    """A whole number within bounds; digits in a string count (app settings, the
    command line, and Storage Explorer, where typing one is easy)."""
    number = value
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    if isinstance(number, bool) or not isinstance(number, int) or number not in bounds:
        raise ValidationError(f"must be a whole number from {_limit(bounds)}, got {value!r}")
    return number


def check_number(value: str, bounds: Bounds) -> float:
    """A number (fractions allowed) within bounds."""
    try:
        number = float(value)
    except ValueError:
        number = float("nan")  # compares false with everything: refused below
    if number not in bounds:
        raise ValidationError(f"must be a number from {_limit(bounds)}, got {value!r}")
    return number


def check_text(value: str, limit: int = TEXT_MAX) -> str:
    """Text of at most ``limit`` characters, without surrounding blanks."""
    if len(value) > limit:
        raise ValidationError(f"must be at most {limit} characters, got {len(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # bytes the terminal could not decode (surrogateescape)
        raise ValidationError("must be valid UTF-8 text") from None
    return value.strip()


def _limit(bounds: Bounds) -> str:
    return f"{bounds.low} to {bounds.high}" + (f" ({bounds.why})" if bounds.why else "")


# -- NCRONTAB (Azure Functions timer schedules) ------------------------------------

_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
# name, lowest, highest, English names (month and day-of-week only; first = lowest)
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _DAYS),
)
_CRON_SHAPE = " ".join(name for name, *_ in _CRON_FIELDS)


def check_ncrontab(value: str) -> str:
    """A six-field NCRONTAB expression (seconds first), as the Functions timer reads
    it: each field ``*``, a number, a range ``a-b``, a list ``a,b`` or a step
    ``*/n`` / ``a-b/n``, numbers within the field's range; English names (Jan, Mon)
    in the month and day-of-week fields. Catches garbage before the host does, with
    the setting's name; it does not try to be NCRONTAB."""
    fields = value.split()
    if len(fields) != len(_CRON_FIELDS):
        raise ValidationError(f"must be an NCRONTAB expression with 6 fields ({_CRON_SHAPE}), got {value!r}")
    for text, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        if not all(_cron_item(item, low, high, names) for item in text.split(",")):
            also = " or English names (Jan, Mon)" if names else ""
            raise ValidationError(
                f"must be an NCRONTAB expression ({_CRON_SHAPE}): the {name} field {text!r} must be * or "
                f"numbers {low}-{high}{also}, as ranges (a-b), lists (a,b) or steps (*/n); got {value!r}"
            )
    return " ".join(fields)


def _cron_item(item: str, low: int, high: int, names: tuple[str, ...]) -> bool:
    base, slash, step = item.partition("/")
    if slash and not (_DIGITS.fullmatch(step) and int(step) >= 1):
        return False
    if base == "*":
        return True
    first, dash, last = base.partition("-")
    return all(_cron_value(part, low, high, names) for part in ((first, last) if dash else (first,)))


def _cron_value(text: str, low: int, high: int, names: tuple[str, ...]) -> bool:
    if _DIGITS.fullmatch(text):
        return low <= int(text) <= high
    # A name, whole or cut short to three letters or more ("Mon", "Monday").
    word = text.lower()
    return len(word) >= 3 and any(name.startswith(word) for name in names)
