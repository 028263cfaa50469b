"""A copy sent again after an attempt with no answer says it may be a repeat, once."""

from __future__ import annotations

from shared.notify.message import Message, Section, Tone
from shared.notify.repeat import REPEAT_HEADING, as_possible_repeat

MESSAGE = Message("SMTP AUTH drift found", "1 open", Tone.ATTENTION, sections=(Section("Drift"),))


def test_the_notice_comes_first_and_keeps_the_message():
    again = as_possible_repeat(MESSAGE)
    assert [s.heading for s in again.sections] == [REPEAT_HEADING, "Drift"]
    assert (again.title, again.summary, again.tone) == (MESSAGE.title, MESSAGE.summary, MESSAGE.tone)
    assert "not a new event" in again.sections[0].note


def test_a_third_try_is_not_said_twice():
    assert as_possible_repeat(as_possible_repeat(MESSAGE)) == as_possible_repeat(MESSAGE)
