"""Notifications: tell people once when something changes, remind them while it
stays broken, never lose an alert.

    events.py    what happened, derived from a check result (pure)
    message.py   one view of it (title, facts, sections, what to do) (pure)
    card.py      the view as a Teams Adaptive Card, cut to size (pure)
    email.py     the view as an HTML email (pure)
    digest.py    the weekly summary per tenant (pure)
    outbox.py    retry schedule and idempotency keys (pure)
    teams.py     sender: Teams Workflows webhook (azure-core pipeline)
    mail.py      sender: Graph sendMail with msgraph-sdk (imported on first mail)
    dispatch.py  derive -> compose -> outbox -> send, per run

Nothing is imported here: the timer function's cold start pays for none of it.
"""
