"""Row keys: safe characters, and time order newest first."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from azure.data.tables.aio import TableClient

_FORBIDDEN = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


def safe_key(text: str) -> str:
    """Table keys may not hold / \\ # ? or control characters."""
    return _FORBIDDEN.sub("_", text)


def _time_part(at: datetime) -> str:
    return f"{10**19 - int(at.timestamp() * 1_000_000):020d}"


def newest_first_key(at: datetime, seq: int = 0) -> str:
    """Row keys that sort newest first, so "the last N" is the first page; ``seq``
    keeps the order of rows written at the same instant."""
    return f"{_time_part(at)}-{seq:06d}-{uuid.uuid4().hex[:8]}"


def written_since(at: datetime) -> str:
    """An upper bound for ``RowKey lt``: the newest_first_key rows written at or after ``at``."""
    return _time_part(at) + "."  # "-", the separator after the time, sorts before "."


async def newest_rows(table: TableClient, tenant: str, limit: int) -> list[dict[str, Any]]:
    """The ``limit`` newest rows of a tenant in a table keyed by newest_first_key()."""
    out: list[dict[str, Any]] = []
    async for entity in table.query_entities(
        "PartitionKey eq @pk", parameters={"pk": tenant}, results_per_page=limit
    ):
        out.append(dict(entity))
        if len(out) >= limit:
            break
    return out
