"""OData bits of InvokeCommand: $select, Prefer page size, $skiptoken, nextLink.

From docs/simulator.md (Exchange admin API facts, with their public sources), "The transport": `?$select=`
trims each object, `Prefer: odata.maxpagesize=1000` sets the page size, and when
more remain the body carries an absolute nextLink to POST the same body to.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

from yarl import URL

MAX_PAGE_SIZE = 1000
_PREFER_PAGE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)
_SKIPTOKEN_PREFIX = "sim-offset:"


def query_value(query: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive query lookup ($select and $Select both work)."""
    for key, value in query.items():
        if key.lower() == name.lower():
            return value
    return None


def parse_select(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    names = [part.strip() for part in raw.split(",") if part.strip()]
    return names or None


def page_size(prefer: str | None) -> int:
    """Page size from `Prefer: odata.maxpagesize=N`, capped at 1000 (default 1000)."""
    match = _PREFER_PAGE.search(prefer or "")
    if not match:
        return MAX_PAGE_SIZE
    size = int(match.group(1))
    return MAX_PAGE_SIZE if size < 1 else min(size, MAX_PAGE_SIZE)


def encode_skiptoken(offset: int) -> str:
    """Opaque to clients: base64url of a marker and the offset, without padding."""
    raw = f"{_SKIPTOKEN_PREFIX}{offset}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_skiptoken(token: str) -> int:
    """Offset in a skiptoken; ValueError if the token is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("undecodable skiptoken") from exc
    if not text.startswith(_SKIPTOKEN_PREFIX):
        raise ValueError("unknown skiptoken")
    digits = text[len(_SKIPTOKEN_PREFIX) :]
    if not digits.isdigit():
        raise ValueError("bad skiptoken offset")
    return int(digits)


def next_link(request_url: URL, select_raw: str | None, offset: int) -> str:
    """Absolute URL of the same endpoint, keeping $select, adding $skiptoken."""
    query: dict[str, str] = {}
    if select_raw is not None:
        query["$select"] = select_raw
    query["$skiptoken"] = encode_skiptoken(offset)
    return str(request_url.with_query(query))


def context_url(request_url: URL, tenant_segment: str, type_name: str) -> str:
    base = request_url.origin()
    return f"{base}/adminapi/beta/{tenant_segment}/$metadata#Collection({type_name})"
