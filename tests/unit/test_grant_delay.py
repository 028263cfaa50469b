"""The grant-delay sentence goes with refusals (401/403) only, once."""

from __future__ import annotations

import pytest

from shared.core.grant_delay import GRANT_DELAY, http_status, with_grant_delay


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_says_a_new_grant_can_take_hours(status: int) -> None:
    text = with_grant_delay("Get-TransportConfig failed (HTTP 403): Access denied", status)
    assert text == f"Get-TransportConfig failed (HTTP 403): Access denied {GRANT_DELAY}"
    assert "8 hours" in text and "managed identity" in text


@pytest.mark.parametrize("status", [None, 400, 404, 429, 500, 503])
def test_other_failures_are_left_as_they_are(status: int | None) -> None:
    assert with_grant_delay("The operation has timed out.", status) == "The operation has timed out."


def test_it_is_said_once() -> None:
    once = with_grant_delay("denied", 401)
    assert with_grant_delay(once, 403) == once
    assert with_grant_delay("", 403) == GRANT_DELAY


def test_the_status_is_the_error_s_or_its_cause_s() -> None:
    class Refused(Exception):
        status_code = 401

    try:
        try:
            raise Refused("the identity endpoint said no")
        except Refused as cause:
            raise RuntimeError("no token") from cause
    except RuntimeError as wrapped:
        assert http_status(wrapped) == 401
    assert http_status(Refused()) == 401
    assert http_status(ValueError("no status")) is None
