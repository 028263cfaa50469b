"""Every kind of card the product posts parses without a single error or warning in
the official Adaptive Cards library (npm ``adaptivecards``), run through Node."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from shared.core.model import ActionStatus, MailboxException, Status
from shared.notify import card
from shared.notify.compose import compose
from shared.notify.digest import TenantDigest, compose_digest
from shared.notify.events import Memory, derive
from shared.notify.undelivered import Undelivered, with_undelivered
from tests.cards import card_strings, elements, text_runs
from tests.unit.notify_values import HOSTILE, NON_LATIN, NOW, POLICY, action, findings, outcome, result

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "validate_cards.js"
PACKAGE = ROOT / "node_modules" / "adaptivecards" / "dist" / "adaptivecards.js"
DAY = timedelta(hours=24)


def validate(cards: dict[str, bytes]) -> tuple[int, dict[str, list[str]]]:
    node = shutil.which("node")
    if node is None or not PACKAGE.exists():
        pytest.fail("Node and node_modules/adaptivecards are required: run `npm ci` (make test does)")
    items = [{"name": name, "body": json.loads(body)} for name, body in cards.items()]
    done = subprocess.run(
        [node, str(SCRIPT)], input=json.dumps(items), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def message(r, memory=None, first_seen=None):
    events = derive(r, memory or Memory(), first_seen=first_seen or {}, remind_every=DAY)
    return compose(r, events, remind_every=DAY)


def every_card() -> dict[str, bytes]:
    org, a, b = findings("a@contoso.com", f"{NON_LATIN}@contoso.com", org_on=True)
    hostile = findings(f"{HOSTILE[:60]}@contoso.com")
    rem = outcome(
        action(org, ActionStatus.APPLIED, "done and read back"),
        action(a, ActionStatus.HELD, HOSTILE, users=["a@contoso.com", HOSTILE]),
        action(b, ActionStatus.FAILED, "the change was refused"),
        note=HOSTILE,
    )
    many = findings(*(f"user{i:05d}@contoso.com" for i in range(3000)), org_on=True)
    soon = NOW.date() + timedelta(days=3)
    digest = TenantDigest(
        replace(
            POLICY,
            exceptions=(
                MailboxException(
                    "exception:x", "scanner@contoso.com", None, HOSTILE, "ciso@contoso.com", soon
                ),
            ),
        ),
        Status.DRIFT,
        NOW,
        NOW,
        [(a, NOW - DAY)],
        problems=("tenant row: field 'Mode' must be 'report' or 'remediate'",),
        org_actual=True,
    )
    messages = {
        "drift opened": message(result((org, a, b))),
        "drift changed and resolved": message(result((a, *hostile), before=(org, a), previous=Status.DRIFT)),
        "resolved": message(result((), before=(org, a, b), previous=Status.DRIFT)),
        "reminder": message(
            result((a,), before=(a,), previous=Status.DRIFT), Memory(NOW - DAY), {a.key: NOW - 3 * DAY}
        ),
        "could not check": message(result(error=HOSTILE, previous=Status.DRIFT)),
        "recovered": message(result((a,), before=(a,), previous=Status.ERROR), Memory(NOW)),
        "remediation": with_undelivered(
            message(result((org, a, b), before=(org, a, b), previous=Status.DRIFT, remediation=rem)),
            [Undelivered(HOSTILE, "email", NOW, HOSTILE, 8)],
        ),
        "3,000 findings, cut down": message(result(many)),
        "digest": compose_digest(digest, NOW),
    }
    return {name: card.payload(m) for name, m in messages.items()}


def test_every_card_parses_cleanly_with_the_official_library():
    cards = every_card()
    assert max(len(body) for body in cards.values()) <= card.LIMIT_BYTES
    code, report = validate(cards)
    assert report == {name: [] for name in cards}
    assert code == 0


def test_the_check_can_fail():
    """A 1.5 property, an element 1.4 does not know, a bad value: all reported."""
    bad = card.card(message(result(findings("a@contoso.com"))))
    bad["body"][0]["items"][0]["inlines"][0]["underline"] = "yes"  # a bool, 1.3
    bad["body"].append({"type": "TextBlock", "text": "x", "style": "heading"})  # TextBlock.style is 1.5
    bad["body"].append({"type": "Table", "columns": []})  # 1.5 element
    bad["body"].append({"type": "TextBlock", "text": "x", "size": "enormous"})
    code, report = validate({"bad": json.dumps(card.envelope(bad)).encode()})
    assert code == 1
    problems = " | ".join(report["bad"])
    assert "supported in version 1.5" in problems and "Table" in problems and "enormous" in problems


def test_every_card_holds_its_text_where_no_markdown_is_read():
    """Teams reads TextBlock and FactSet text as Markdown and shows backslash escapes
    literally on phones: every text is a TextRun, shown as posted, never clickable."""
    for name, body in every_card().items():
        posted = json.loads(body)
        kinds = {node["type"] for node in elements(posted)}
        assert not kinds & {"TextBlock", "FactSet"}, name
        runs = text_runs(posted)
        assert runs and not [run for run in runs if "selectAction" in run], name
        texts = card_strings(posted)
        assert not [t for t in texts if "\\" in t], name  # no escape reached the card
        actions = [node for node in elements(posted) if node["type"].startswith("Action.")]
        assert [a["url"] for a in actions] == [card.ADMIN_CENTER], name  # the card's own button only


def test_hostile_text_arrives_as_itself():
    evil = "x*_[pay](https://evil.example)<script>alert(1)</script>@contoso.com"
    r = result(findings(evil, f"{NON_LATIN}@contoso.com"))
    rem = outcome(action(r.findings[0], ActionStatus.HELD, HOSTILE, users=[HOSTILE]))
    body = card.payload(
        with_undelivered(message(replace(r, remediation=rem)), [Undelivered(HOSTILE, "teams", NOW, HOSTILE)])
    )
    visible = "\n".join(card_strings(json.loads(body))).replace("\u2060", "")
    assert "<script>alert('x')</script>" in visible and "[click](https://evil.example/x)" in visible
    assert "{{DATE(2017-02-14T06:08:39Z, SHORT)}}" in visible and "**bold** _it_" in visible
    assert evil in visible and NON_LATIN in visible
    code, report = validate({"hostile": body})
    assert (code, report) == (0, {"hostile": []})
