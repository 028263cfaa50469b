"""The OData ``$filter`` subset the sim's sign-in log understands, parsed properly.

Comparisons: ``clientAppUsed eq '...'``, ``userPrincipalName eq '...'``,
``status/errorCode eq <integer>``, ``createdDateTime eq|ge|le <ISO time>`` (what the
"List signIns" page documents). They combine with ``and`` and ``or`` and
parentheses, with OData's precedence (``and`` binds tighter than ``or``), so
``a and b or c`` means ``(a and b) or c`` here as it does in Graph: a filter that
forgets its parentheses matches what Graph would match, not what its author meant.
Anything else (another field, operator, function, ``not``, a value of the wrong
type) is a ``ValueError``, which the route answers with 400: the product cannot lean
on a clause the sim would silently ignore.

The ``or`` group is what SMTP AUTH evidence needs: sign-ins are logged as
``Authenticated SMTP`` *or* ``SMTP`` (CIPP-API ``Get-CIPPAlertSmtpAuthSuccess.ps1``,
KelvinTegelaar/CIPP#5291; docs/simulator.md (Exchange admin API facts, with their public sources), "Corrections
found in the 2026-12 audit").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_TOKEN = re.compile(r"\s*(?:(?P<paren>[()])|(?P<string>'(?:[^']|'')*')|(?P<word>[^\s()']+))")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
_INTEGER = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class Comparison:
    field: str  # canonical spelling, e.g. "clientAppUsed"
    op: str  # eq | ge | le
    value: str | int | datetime


@dataclass(frozen=True)
class AllOf:
    terms: tuple[Filter, ...]


@dataclass(frozen=True)
class AnyOf:
    terms: tuple[Filter, ...]


Filter = Comparison | AllOf | AnyOf


def _read_string(entry: Mapping[str, Any], name: str) -> str:
    return str(entry.get(name) or "")


def _read_error_code(entry: Mapping[str, Any]) -> int:
    return int((entry.get("status") or {}).get("errorCode", 0))


def _read_time(entry: Mapping[str, Any]) -> datetime:
    return _parse_time(entry["createdDateTime"])


# field (lower case) -> (canonical name, value kind, operators, reader of a log entry)
_FIELDS: dict[str, tuple[str, str, frozenset[str], Callable[[Mapping[str, Any]], Any]]] = {
    "clientappused": (
        "clientAppUsed", "string", frozenset({"eq"}), lambda e: _read_string(e, "clientAppUsed"),
    ),
    "userprincipalname": (
        "userPrincipalName", "string", frozenset({"eq"}), lambda e: _read_string(e, "userPrincipalName"),
    ),
    "status/errorcode": ("status/errorCode", "integer", frozenset({"eq"}), _read_error_code),
    "createddatetime": ("createdDateTime", "datetime", frozenset({"eq", "ge", "le"}), _read_time),
}  # fmt: skip


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)  # Python 3.11 reads a "Z" suffix


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"Invalid filter clause: cannot read {text[pos:]!r}")
        out.append(match.group(match.lastgroup or "word"))
        pos = match.end()
    return out


class _Parser:
    """filter := and_expr ('or' and_expr)* ; and_expr := primary ('and' primary)* ;
    primary := '(' filter ')' | field op value"""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise ValueError("Invalid filter clause: it ends too early")
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.lower() == word:
            self.pos += 1
            return True
        return False

    def filter(self) -> Filter:
        terms = [self.and_expr()]
        while self.keyword("or"):
            terms.append(self.and_expr())
        return terms[0] if len(terms) == 1 else AnyOf(tuple(terms))

    def and_expr(self) -> Filter:
        terms = [self.primary()]
        while self.keyword("and"):
            terms.append(self.primary())
        return terms[0] if len(terms) == 1 else AllOf(tuple(terms))

    def primary(self) -> Filter:
        if self.peek() == "(":
            self.take()
            inner = self.filter()
            if self.take() != ")":
                raise ValueError("Invalid filter clause: a '(' is not closed")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        name, op, raw = self.take(), self.take(), self.take()
        known = _FIELDS.get(name.lower())
        if known is None:
            raise ValueError(f"Invalid filter clause: {name!r} is not a supported property")
        field, kind, ops, _ = known
        if op.lower() not in ops:
            raise ValueError(f"Invalid filter clause: {field} does not support {op!r}")
        return Comparison(field, op.lower(), _value(field, kind, raw))


def _value(field: str, kind: str, raw: str) -> str | int | datetime:
    if kind == "string":
        if len(raw) < 2 or raw[0] != "'" or raw[-1] != "'":
            raise ValueError(f"Invalid filter clause: {field} needs a quoted string, not {raw!r}")
        return raw[1:-1].replace("''", "'")
    if kind == "integer":
        if not _INTEGER.match(raw):
            raise ValueError(f"Invalid filter clause: {field} needs an integer, not {raw!r}")
        return int(raw)
    if not _DATETIME.match(raw):
        raise ValueError(f"Invalid filter clause: {field} needs an ISO 8601 time, not {raw!r}")
    return _parse_time(raw)


def parse_filter(text: str) -> Filter | None:
    """The parsed filter (None for an empty one); ValueError if Graph would refuse it."""
    tokens = _tokens(text)
    if not tokens:
        return None
    parser = _Parser(tokens)
    parsed = parser.filter()
    if parser.peek() is not None:
        raise ValueError(f"Invalid filter clause: unexpected {parser.peek()!r}")
    return parsed


def matches(flt: Filter | None, entry: Mapping[str, Any]) -> bool:
    """Whether a sign-in log entry passes the filter; strings compare case-insensitively."""
    if flt is None:
        return True
    if isinstance(flt, AllOf):
        return all(matches(term, entry) for term in flt.terms)
    if isinstance(flt, AnyOf):
        return any(matches(term, entry) for term in flt.terms)
    actual = _FIELDS[flt.field.lower()][3](entry)
    expected = flt.value
    if isinstance(expected, str):
        return str(actual).lower() == expected.lower()
    if flt.op == "ge":
        return actual >= expected
    if flt.op == "le":
        return actual <= expected
    return actual == expected
