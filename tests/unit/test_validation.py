"""The one validation module: what each check accepts and what it refuses."""

from __future__ import annotations

import pytest

from shared.core.limits import EVIDENCE_DAYS, MAX_CHANGES_PER_RUN, REMINDER_HOURS, TEXT_MAX, Bounds
from shared.core.validation import (
    ValidationError,
    check_domain,
    check_endpoint_url,
    check_ncrontab,
    check_number,
    check_tenant_id,
    check_text,
    check_webhook_setting,
    check_whole_number,
    is_address,
    is_domain,
    is_guid,
    is_loopback,
)

GUID = "8f6a3c1e-2b4d-4e5f-9a0b-1c2d3e4f5a6b"


@pytest.mark.parametrize("value", ["scanner@contoso.com", "a.b+c@sub.contoso.co.uk", "x@y.io"])
def test_addresses(value):
    assert is_address(value)


@pytest.mark.parametrize(
    "value", ["scanner", "the boss", "a@b@contoso.com", "@contoso.com", "a@", "a b@contoso.com",
              "x" * 65 + "@contoso.com", "", "a@contoso.com\n"],
)  # fmt: skip
def test_not_addresses(value):
    assert not is_address(value)


def test_guids_and_domains():
    assert is_guid(GUID) and is_guid(GUID.upper())
    assert not is_guid("1234") and not is_guid(GUID + "0") and not is_guid(GUID.replace("-", ""))
    assert not is_guid(GUID + "\n") and not is_domain("contoso.com\n")
    assert is_domain("contoso.onmicrosoft.com") and is_domain("xn--bcher-kva.example")
    for bad in ("not a domain", "contoso", "-contoso.com", "contoso.c", "a" * 64 + ".com", "contoso.com."):
        assert not is_domain(bad), bad


def test_tenant_id_is_a_guid_or_a_domain_in_lower_case():
    assert check_tenant_id(f" {GUID.upper()} ") == GUID
    assert check_tenant_id("Contoso.onMicrosoft.com") == "contoso.onmicrosoft.com"
    for bad in ("not/a/tenant", "", "1234"):
        with pytest.raises(ValidationError, match="GUID or a domain"):
            check_tenant_id(bad)


def test_domain():
    assert check_domain(" Contoso.onmicrosoft.com ") == "contoso.onmicrosoft.com"
    with pytest.raises(ValidationError) as err:
        check_domain("x y")
    assert str(err.value) == "must be a domain like contoso.onmicrosoft.com, got 'x y'"


def test_webhook_setting_is_a_name_never_the_url():
    assert check_webhook_setting(" TEAMS_WEBHOOK_CONTOSO ") == "TEAMS_WEBHOOK_CONTOSO"
    for bad in ("https://x.example/?sig=abc", "9LIVES", "A-B", "A" * 129):
        with pytest.raises(ValidationError, match="NAME of an app setting") as err:
            check_webhook_setting(bad)
        assert "sig=" not in str(err.value)  # the secret is not repeated back


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("localhost", True), ("LOCALHOST", True), ("127.0.0.1", True), ("127.8.9.1", True), ("::1", True),
     ("[::1]", True), ("10.0.0.5", False), ("outlook.office365.com", False), ("localhost.evil.example", False),
     ("", False), (None, False)],
)  # fmt: skip
def test_loopback(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("url", "clean"),
    [("https://outlook.office365.com/", "https://outlook.office365.com"),
     ("http://127.0.0.1:5000", "http://127.0.0.1:5000"), ("http://[::1]:2/", "http://[::1]:2"),
     (" https://graph.microsoft.com ", "https://graph.microsoft.com")],
)  # fmt: skip
def test_endpoint_urls(url, clean):
    assert check_endpoint_url(url) == clean


@pytest.mark.parametrize(
    ("url", "problem"),
    [("http://outlook.office365.com", "plain http:// only for loopback"), ("ftp://127.0.0.1", "https://"),
     ("not a url", "https://"), ("https://", "https://"), ("https://[::1", "https://"),
     ("https://user:pw@example.com", "credentials"), ("https://example.com/?sig=abc", "query"),
     ("https://example.com/#x", "fragment")],
)  # fmt: skip
def test_bad_endpoint_urls(url, problem):
    with pytest.raises(ValidationError, match=problem):
        check_endpoint_url(url)


def test_whole_numbers_within_bounds():
    assert check_whole_number(30, EVIDENCE_DAYS) == 30
    assert check_whole_number(" 1 ", EVIDENCE_DAYS) == 1  # typed as digits in Storage Explorer or argv
    assert check_whole_number(0, MAX_CHANGES_PER_RUN) == 0


@pytest.mark.parametrize("value", [31, 0, "31", "-1", "1.5", "ten", True, 3.0, None, "٣"])
def test_whole_numbers_refused_say_the_limit(value):
    with pytest.raises(ValidationError) as err:
        check_whole_number(value, EVIDENCE_DAYS)
    assert str(err.value) == (
        f"must be a whole number from 1 to 30 (sign-in logs keep 30 days), got {value!r}"
    )


def test_numbers_may_be_fractions():
    assert check_number("0", REMINDER_HOURS) == 0.0
    assert check_number("1.5", REMINDER_HOURS) == 1.5
    for bad in ("-1", "daily", "nan", "inf", "2161"):
        with pytest.raises(ValidationError, match=r"from 0 to 2160 \(0: no reminders\)"):
            check_number(bad, REMINDER_HOURS)


def test_bounds_without_a_reason_say_only_the_range():
    with pytest.raises(ValidationError) as err:
        check_whole_number(7, Bounds(1, 5, 2))
    assert str(err.value) == "must be a whole number from 1 to 5, got 7"


def test_text_length():
    assert check_text("  MFP on floor 3 ") == "MFP on floor 3"
    assert check_text("x" * TEXT_MAX) == "x" * TEXT_MAX
    with pytest.raises(ValidationError, match=f"at most {TEXT_MAX} characters, got {TEXT_MAX + 1}"):
        check_text("x" * (TEXT_MAX + 1))


@pytest.mark.parametrize(
    "expr",
    ["0 */15 * * * *", "0 0 7 * * 1", "0 30 6 * * 1-5", "0 0 9-17 * * *", "0 0 7,18 * * *",
     "5 4/10 0-23/2 1,15 1-12 0-6", "0 30 9 * Jan Mon", "0 0 8 * JANUARY-mar sun,SAT", "  0 0 * * * *  ",
     "0 0 0 31 12 6"],
)  # fmt: skip
def test_ncrontab_accepts_what_the_functions_timer_does(expr):
    assert check_ncrontab(expr) == " ".join(expr.split())


@pytest.mark.parametrize(
    ("expr", "problem"),
    [("every minute", "6 fields"), ("0 7 * * 1", "6 fields"), ("0 0 0 7 * * 1", "6 fields"), ("", "6 fields"),
     ("60 * * * * *", "second field '60'"), ("0 61 * * * *", "minute field '61'"),
     ("0 0 24 * * *", "hour field '24'"), ("0 0 0 0 * *", "day field '0'"), ("0 0 0 * 13 *", "month field '13'"),
     ("0 0 0 * * 7", "day-of-week field '7'"), ("0 */0 * * * *", "minute field"), ("0 a * * * *", "minute"),
     ("0 0 0 * * Mo", "day-of-week"), ("0 0 0 * Mon *", "month field"), ("0 0 0 * * Funday", "day-of-week"),
     ("0 1,,2 * * * *", "minute"), ("0 -5 * * * *", "minute"), ("0 *-5 * * * *", "minute"),
     ("0 5/ * * * *", "minute"), ("0 0 L * * *", "hour"), ("0 0 0 ? * *", "day field"),
     ("0 0 0 * * 1#2", "day-of-week")],
)  # fmt: skip
def test_ncrontab_refuses_garbage_and_says_which_field(expr, problem):
    with pytest.raises(ValidationError, match="NCRONTAB") as err:
        check_ncrontab(expr)
    assert problem in str(err.value)
