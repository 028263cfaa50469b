"""A Message as an HTML email: the same content as the card, every string escaped.
Pure. Inline styles only (mail clients drop most <style>), no images, no scripts,
no external resources."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

from shared.core import commands
from shared.notify.message import Message, Section, Tone

_COLOR = {Tone.ATTENTION: "#c4314b", Tone.WARNING: "#c17f00", Tone.GOOD: "#237b4b", Tone.DEFAULT: "#4b5563"}
_FONT = "font-family:'Segoe UI',Helvetica,Arial,sans-serif;"
_WRAP = "overflow-wrap:anywhere;word-break:break-word;"
# Browsers break lines after a hyphen, which would split ``--approver`` or
# ``Set-CASMailbox`` in two: a command never wraps (nowrap); one wider than the mail
# scrolls in its own box where the client can, instead of widening the whole mail.
_MONO = (
    "font-family:Consolas,Menlo,'Courier New',monospace;font-size:13px;background:#f3f4f6;"
    "padding:0 2px;white-space:nowrap;display:inline-block;max-width:100%;overflow-x:auto;"
    "vertical-align:bottom;"
)
# The commands a message tells people to run (shared.core.commands): the admin CLI's,
# whose words may hold a dot or comma but not end with one (that ends the sentence),
# and the Exchange PowerShell fixes, which end at their $true / $false / $null.
_COMMAND = re.compile(
    rf"{re.escape(commands.CLI)}(?: (?:'[^']*'|[^\s()'.,;:]|[.,;:](?=[^\s)]))+)+"
    r"|Set-(?:CASMailbox|TransportConfig) [^,;()]*?-SmtpClientAuthenticationDisabled \$(?:true|false|null)"
)


@dataclass(frozen=True)
class Email:
    subject: str  # plain text
    html: str


def e(text: str) -> str:
    return escape(text, quote=True)


def code(command: str) -> str:
    """A command in monospace, on one line."""
    return f'<code style="{_MONO}">{e(command)}</code>'


def rich(text: str) -> str:
    """Escaped text, the commands in it set as code."""
    out, last = [], 0
    for match in _COMMAND.finditer(text):
        out += [e(text[last : match.start()]), code(match.group(0))]
        last = match.end()
    return "".join(out) + e(text[last:])


def _section(section: Section) -> str:
    color = _COLOR[section.tone]
    parts = [f'<h2 style="font-size:16px;margin:24px 0 6px;color:{color}">{e(section.heading)}</h2>']
    if section.note:
        parts.append(f'<p style="margin:0 0 8px;{_WRAP}">{rich(section.note)}</p>')
    if section.lines:
        items = "".join(
            f'<li style="margin:0 0 4px;{_WRAP}"><strong>{rich(line.text)}</strong>'
            + (f' <span style="color:#4b5563">· {rich(line.detail)}</span>' if line.detail else "")
            + "</li>"
            for line in section.lines
        )
        parts.append(f'<ul style="margin:0;padding-left:20px">{items}</ul>')
    if section.more:
        parts.append(
            f'<p style="margin:6px 0 0;color:#6b7280">… and {section.more:,} more '
            f"({code(commands.check(json=True))} lists them all)</p>"
        )
    return "".join(parts)


def render(message: Message) -> Email:
    color = _COLOR[message.tone]
    facts = "".join(
        f'<tr><td style="padding:2px 16px 2px 0;color:#6b7280;white-space:nowrap;vertical-align:top">{e(k)}</td>'
        f'<td style="padding:2px 0;{_WRAP}">{rich(v)}</td></tr>'
        for k, v in message.facts
    )
    todo = ""
    if message.todo:
        steps = "".join(f'<li style="margin:0 0 6px;{_WRAP}">{rich(step)}</li>' for step in message.todo)
        todo = (
            '<h2 style="font-size:16px;margin:24px 0 6px">What to do</h2>'
            f'<ol style="margin:0;padding-left:20px">{steps}</ol>'
        )
    footer = f'<p style="margin:24px 0 0;font-size:12px;color:#6b7280">{e(message.footer)}</p>'
    html = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{e(message.subject)}</title></head>"
        f'<body style="margin:0;padding:0;background:#f3f4f6;color:#1f2937;{_FONT}">'
        # Shown by mail clients as the preview line, hidden in the message itself.
        f'<div style="display:none;max-height:0;overflow:hidden">{e(message.summary)}</div>'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f3f4f6">'
        '<tr><td align="center" style="padding:24px 12px">'
        '<table role="presentation" width="640" cellpadding="0" cellspacing="0" '
        f'style="max-width:640px;width:100%;background:#ffffff;border-top:6px solid {color};{_FONT}">'
        '<tr><td style="padding:24px">'
        f'<h1 style="font-size:20px;margin:0 0 8px;color:{color};{_WRAP}">{e(message.title)}</h1>'
        f'<p style="margin:0 0 16px;color:#374151;{_WRAP}">{e(message.summary)}</p>'
        f'<table role="presentation" cellpadding="0" cellspacing="0" style="font-size:14px">{facts}</table>'
        + "".join(_section(s) for s in message.sections)
        + todo
        + footer
        + "</td></tr></table></td></tr></table></body></html>"
    )
    return Email(subject=message.subject, html=html)
