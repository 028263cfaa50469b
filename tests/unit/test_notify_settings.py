"""Notification settings: defaults, validation that names the setting."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.notify.dispatch import NotifyConfig
from shared.shell.settings import Settings, SettingsError

AZURITE = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def test_defaults():
    s = Settings.from_env(AZURITE)
    assert (s.mail_sender, s.reminder_hours, s.notify_max_attempts) == (None, 24.0, 8)
    assert s.digest_schedule == "0 0 7 * * 1"
    config = NotifyConfig.from_settings(s, env={})
    assert config.remind_every == timedelta(hours=24) and config.max_attempts == 8
    assert (s.card_max_kb, config.card_limit_bytes) == (20, 20 * 1024)  # below the ~21 KB measured


def test_values_are_read():
    s = Settings.from_env(
        {
            **AZURITE,
            "SMTPAUTH_MAIL_SENDER": " alerts@contoso.com ",
            "SMTPAUTH_REMINDER_HOURS": "0",
            "SMTPAUTH_NOTIFY_MAX_ATTEMPTS": "3",
            "SMTPAUTH_DIGEST_SCHEDULE": "0 30 6 * * 1-5",
            "SMTPAUTH_CARD_MAX_KB": " 12 ",
        }
    )
    assert NotifyConfig.from_settings(s, env={}).card_limit_bytes == 12 * 1024
    assert (s.mail_sender, s.notify_max_attempts, s.digest_schedule) == (
        "alerts@contoso.com",
        3,
        "0 30 6 * * 1-5",
    )
    assert NotifyConfig.from_settings(s, env={}).remind_every is None  # 0 turns reminders off


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMTPAUTH_MAIL_SENDER", "not an address"),
        ("SMTPAUTH_REMINDER_HOURS", "-1"),
        ("SMTPAUTH_REMINDER_HOURS", "daily"),
        ("SMTPAUTH_NOTIFY_MAX_ATTEMPTS", "0"),
        ("SMTPAUTH_NOTIFY_MAX_ATTEMPTS", "51"),
        ("SMTPAUTH_CARD_MAX_KB", "28"),  # past what Teams takes: dropped without a word
        ("SMTPAUTH_CARD_MAX_KB", "3"),
        ("SMTPAUTH_CARD_MAX_KB", "20.5"),
        ("SMTPAUTH_DIGEST_SCHEDULE", "0 7 * * 1"),  # five fields: the Functions timer wants six
    ],
)
def test_bad_values_name_the_setting(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**AZURITE, name: value})
