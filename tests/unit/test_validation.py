"""The one validation module: what each check accepts, what it refuses, and that
nothing else in the product keeps its own copy of a rule."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

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

ROOT = Path(__file__).resolve().parents[2]
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


# -- one source: no module keeps its own copy of a rule ---------------------------

_RE_CALLS = {"compile", "match", "fullmatch", "search"}


def _product_modules() -> list[Path]:
    return [ROOT / "function_app.py", *sorted((ROOT / "shared").rglob("*.py"))]


def _regex_literals(path: Path) -> list[str]:
    """The patterns a module passes to re.compile / match / fullmatch / search."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _RE_CALLS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "re"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append(node.args[0].value)
    return found


def test_no_module_defines_its_own_address_domain_or_guid_regex():
    validation = ROOT / "shared" / "core" / "validation.py"
    copies = {
        str(path.relative_to(ROOT)): pattern
        for path in _product_modules()
        if path != validation
        for pattern in _regex_literals(path)
        # an address (an @ in the pattern), a domain label, a GUID group
        if "@" in pattern or "a-zA-Z0-9-" in pattern or "{8}-" in pattern or "{12}" in pattern
    }
    assert copies == {}
    assert len(_regex_literals(validation)) >= 3  # the probe sees the real ones


def test_the_cli_takes_its_checks_from_core_not_the_storage_layer():
    trees = [
        ast.parse(p.read_text(encoding="utf-8")) for p in (ROOT / "shared" / "shell" / "cli").glob("*.py")
    ]
    from_store = {
        alias.name
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("shared.store")
        for alias in node.names
    }
    # The row key an exception is written under is the store's business, not a check;
    # so are the errors a stored row or a refused write raises (the CLI reports them,
    # naming the option: the store runs the loader's own check before every write),
    # and the row's schema that `tenant show` prints column by column.
    assert from_store <= {
        "exception_row_key",
        "RecordError",
        "RowError",
        "TenantRowChanged",
        "DesiredStateStore",
        "EXCEPTION_PREFIX",
        "TENANT_COLUMNS",
        "parse_tenant_row",
        "tenant_entity",
    }
    checks = {"check_tenant_id", "check_text", "check_domain", "check_webhook_setting", "is_address"}
    assert not from_store & checks


def test_validation_and_limits_need_only_the_standard_library():
    # The function app imports them while the host indexes it: no SDK may come along.
    for name in ("validation.py", "limits.py"):
        tree = ast.parse((ROOT / "shared" / "core" / name).read_text(encoding="utf-8"))
        imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        outside = {m for m in imported if m.split(".")[0] not in sys.stdlib_module_names}
        assert outside <= {"shared.core.limits"}, name
