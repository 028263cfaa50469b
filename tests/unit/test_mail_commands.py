"""Commands in the email: set in monospace on one line (a browser would break
``--approver`` or ``Set-CASMailbox`` at the hyphen), whole, and the exception hint
asks for the ticket an auditor will look for."""

from __future__ import annotations

import shlex
from datetime import timedelta
from html.parser import HTMLParser

from shared.core import commands
from shared.notify import mail_html
from shared.notify.compose import compose
from shared.notify.events import Memory, derive

from .notify_values import TENANT, findings, result

DAY = timedelta(hours=24)


class _Codes(HTMLParser):
    """The text of every <code> element with its style, and the text outside them."""

    def __init__(self) -> None:
        super().__init__()
        self.codes: list[tuple[str, str]] = []
        self.outside: list[str] = []
        self._style: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "code":
            self._style, self._text = dict(attrs).get("style") or "", []

    def handle_endtag(self, tag: str) -> None:
        if tag == "code" and self._style is not None:
            self.codes.append(("".join(self._text), self._style))
            self._style = None

    def handle_data(self, data: str) -> None:
        (self._text if self._style is not None else self.outside).append(data)


def rendered_drift() -> _Codes:
    r = result(findings("printer@contoso.com", "scanner@contoso.com", org_on=True))
    events = derive(r, Memory(), first_seen={}, remind_every=DAY)
    parser = _Codes()
    parser.feed(mail_html.render(compose(r, events, remind_every=DAY)).html)
    return parser


def test_every_command_in_the_mail_is_monospace_on_one_line():
    mail = rendered_drift()
    texts = [text for text, _ in mail.codes]
    assert commands.exception_add(TENANT) in texts
    assert commands.exception_add(TENANT, "printer@contoso.com") in texts
    assert commands.set_transport_config(True) in texts
    assert any(text.startswith("Set-CASMailbox -Identity ") for text in texts)
    for _, style in mail.codes:
        assert "white-space:nowrap" in style and "monospace" in style
    # No command is left in the running text, where it would wrap at its hyphens.
    outside = "".join(mail.outside)
    assert commands.CLI + " " not in outside and "Set-CASMailbox" not in outside


def test_a_command_stops_where_its_sentence_goes_on():
    html = mail_html.rich(
        f"Run {commands.audit(TENANT)}. Then (list them: {commands.exception_list(TENANT)})."
    )
    assert f">{commands.audit(TENANT)}</code>. Then (list them: " in html
    assert f">{commands.exception_list(TENANT)}</code>)." in html


def test_the_exception_hint_asks_for_a_ticket_and_parses():
    hint = commands.exception_add(TENANT, "printer@contoso.com")
    assert "--ticket TICKET" in hint
    words = shlex.split(hint)
    assert words[words.index("--ticket") + 1] == "TICKET"
