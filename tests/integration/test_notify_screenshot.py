"""Look at it: the email, and the card as the official Adaptive Cards renderer draws
it, rendered by headless Chromium to PNGs in out/notifications/ for a person to
open. Skipped where Chromium is not installed (CI does not install it)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from shared.core.model import ActionStatus, Status
from shared.notify import card, mail_html
from shared.notify.compose import compose
from shared.notify.events import Memory, derive
from shared.notify.message import Message
from shared.notify.undelivered import Undelivered, with_undelivered
from tests.unit.notify_values import HOSTILE, NON_LATIN, NOW, action, findings, outcome, result

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "out" / "notifications"
CHROMIUM = Path("/usr/bin/chromium")
MODULES = ROOT / "node_modules"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="headless Chromium is not installed at /usr/bin/chromium (apt-get install chromium to get "
    "PNGs of the email and the card in out/notifications/)",
)

# Headless, and unable to reach anything but local files: every host name fails to
# resolve and any request would go to a proxy that is not there.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
    "--allow-file-access-from-files",
    "--virtual-time-budget=3000",
)


def sample() -> Message:
    current = findings(
        "scanner-floor2@contoso.com",
        f"{NON_LATIN}@contoso.com",
        "x*_[pay](https://evil.example)<script>alert(1)</script>@contoso.com",
        *(f"user{i:04d}@contoso.com" for i in range(12)),
        org_on=True,
    )
    rem = outcome(
        action(
            current[1],
            ActionStatus.HELD,
            "used SMTP AUTH in the last 30 days",
            users=["scanner-floor2@contoso.com"],
        ),
        note="Sign-in evidence read for the last 30 days.",
    )
    r = replace(result(current), remediation=rem, previous_status=Status.COMPLIANT)
    events = derive(r, Memory(), first_seen={}, remind_every=timedelta(hours=24))
    message = compose(r, events, remind_every=timedelta(hours=24))
    return with_undelivered(
        message, [Undelivered(HOSTILE, "teams", NOW - timedelta(hours=20), "HTTP 500", 8)]
    )


def shoot(page: Path, png: Path, tmp_path: Path, width: int = 820, height: int = 1800) -> None:
    png.unlink(missing_ok=True)
    subprocess.run(
        [
            str(CHROMIUM),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--window-size={width},{height}",
            f"--screenshot={png}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=90,
        check=True,
    )
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_email_renders_in_chromium(tmp_path):
    OUT.mkdir(parents=True, exist_ok=True)
    page = OUT / "email.html"
    page.write_text(mail_html.render(sample()).html, encoding="utf-8")
    shoot(page, OUT / "email.png", tmp_path)


def test_card_renders_with_the_official_renderer_in_chromium(tmp_path):
    OUT.mkdir(parents=True, exist_ok=True)
    body = json.loads(card.payload(sample()))
    content = body["attachments"][0]["content"]
    (OUT / "card.json").write_text(json.dumps(body, indent=2, ensure_ascii=False), encoding="utf-8")
    # The page draws the card with adaptivecards and markdown-it, then writes "rendered"
    # into the title; the test reads the DOM back to be sure it did.
    page = OUT / "card.html"
    page.write_text(
        f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>pending</title>
<link rel="stylesheet" href="{(MODULES / "adaptivecards/dist/adaptivecards.css").as_uri()}">
<style>body{{margin:0;padding:16px;background:#f5f5f5;font-family:'Segoe UI',sans-serif}}
#card{{max-width:760px;background:#fff;border:1px solid #ddd}}</style>
<script src="{(MODULES / "markdown-it/dist/browser/markdown-it.umd.min.js").as_uri()}"></script>
<script src="{(MODULES / "adaptivecards/dist/adaptivecards.min.js").as_uri()}"></script>
</head><body><div id="card"></div><script>
const md = window.markdownit({{html: false, linkify: true}});
AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {{
  result.outputHtml = md.render(text); result.didProcess = true; }};
const card = new AdaptiveCards.AdaptiveCard();
card.parse({json.dumps(content, ensure_ascii=False)});
document.getElementById("card").appendChild(card.render());
document.title = "rendered";
</script></body></html>""",
        encoding="utf-8",
    )
    dom = subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'dom'}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    ).stdout
    assert "<title>rendered</title>" in dom
    assert "alert(1)" in dom and "<script>alert" not in dom  # the hostile name is text
    assert NON_LATIN in dom
    shoot(page, OUT / "card.png", tmp_path)
