"""Which sendMail refusals are given up at once, and the fix each names."""

from __future__ import annotations

import pytest

from shared.core.mail_errors import fix_for, never_succeeds


@pytest.mark.parametrize("code", ["ErrorInvalidUser", "ResourceNotFound", "MailboxNotEnabledForRESTAPI"])
def test_a_sender_that_is_not_a_mailbox(code):
    assert never_succeeds(404, code)
    assert (fix_for(404, code) or "").startswith("SMTPAUTH_MAIL_SENDER is not a licensed mailbox")


def test_access_denied_names_the_permission_and_the_grant_delay():
    fix = fix_for(403, "ErrorAccessDenied") or ""
    assert never_succeeds(403, "ErrorAccessDenied")
    assert fix.startswith("Mail.Send is not granted") and "8 hours" in fix


@pytest.mark.parametrize(
    ("status", "code"),
    [(429, "TooManyRequests"), (503, "ServiceUnavailable"), (500, ""), (401, "InvalidAuthenticationToken"),
     (404, "ErrorItemNotFound"), (403, "Forbidden"), (None, "")],
)  # fmt: skip
def test_what_a_later_try_may_cure_is_retried(status, code):
    assert not never_succeeds(status, code) and fix_for(status, code) is None


def test_a_bad_request_is_given_up_without_a_setup_fix():
    assert never_succeeds(400, "ErrorInvalidRecipients") and fix_for(400, "ErrorInvalidRecipients") is None
