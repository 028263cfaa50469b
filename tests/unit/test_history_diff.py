from __future__ import annotations

from dataclasses import replace

from shared.core.diff import diff
from shared.core.model import Finding, FindingKind


def f(target: str, kind=FindingKind.MAILBOX_ENABLED_WITHOUT_EXCEPTION, **kw) -> Finding:
    base = Finding(
        kind=kind, target=target, actual=False, desired=True, message="m", mailbox_guid=f"g-{target}"
    )
    return replace(base, **kw)


def test_new_unchanged_resolved():
    a, b, c = f("a"), f("b"), f("c")
    d = diff({a.key: a, b.key: b}, [b, c])
    assert (d.opened, d.unchanged, d.resolved, d.changed) == ((c,), (b,), (a,), ())


def test_a_reworded_message_is_not_a_change_but_a_new_value_is():
    a = f("a")
    assert diff({a.key: a}, [replace(a, message="new words")]).unchanged
    org = Finding(FindingKind.ORG_SETTING_DRIFT, "organization", False, True, "m")
    assert diff({org.key: org}, [replace(org, actual=None)]).changed


def test_a_mailbox_moving_from_unapproved_to_expired_is_two_events():
    a = f("a")
    expired = replace(a, kind=FindingKind.MAILBOX_EXCEPTION_EXPIRED)
    d = diff({a.key: a}, [expired])
    assert d.opened == (expired,) and d.resolved == (a,)
