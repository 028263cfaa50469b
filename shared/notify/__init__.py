"""Notifications: tell people once when something changes, remind them while it
stays broken, never lose an alert.

    events.py       what happened, derived from a check result (pure)
    text.py         cleaning tenant text; times, counts, SMTP AUTH values in words (pure)
    message.py      one view of it: Message, Section, Line, Tone; fit to a size (pure)
    compose.py      a check result and its events as a Message (pure)
    undelivered.py  notifications given up on, told in the next message (pure)
    card.py         the view as a Teams Adaptive Card, cut to size (pure)
    mail_html.py    the view as an HTML email (pure)
    digest.py       the weekly summary per tenant (pure)
    delivery.py     retry schedule, idempotency keys, targets (pure)
    dispatch.py     derive -> compose -> outbox -> send, per run

Nothing is imported here: the timer function's cold start pays for none of it.
"""
