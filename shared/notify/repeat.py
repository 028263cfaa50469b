"""A copy sent again after an attempt that got no answer: it may be the second copy
of one notification, so it says so first, and nobody takes it for a new event. Pure."""

from __future__ import annotations

from dataclasses import replace

from shared.notify.message import Message, Section

REPEAT_HEADING = "Sent again"
REPEAT_NOTE = (
    "An earlier attempt to send this got no answer and may have arrived. If you already "
    "have it, this is the same notification, not a new event."
)


def as_possible_repeat(message: Message) -> Message:
    if message.sections and message.sections[0].heading == REPEAT_HEADING:
        return message
    return replace(message, sections=(Section(REPEAT_HEADING, note=REPEAT_NOTE), *message.sections))
