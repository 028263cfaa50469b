"""Rows written straight into a stopped on-disk Azurite's table database.

Azurite (LokiJS) finds the entity of every write by scanning its partition, so a
write into a partition of n rows costs O(n): 10,000 exception rows of one tenant
written through the Table API took this 2-core machine 105-150 s, batched or not,
where Table Storage takes seconds. A test that needs a partition that large writes
it here while Azurite is stopped, then reads it back through the Table API before it
relies on it (a change of the file's shape fails there, never silently).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sim.azurite import DEV_ACCOUNT

DATABASE = "__azurite_db_table__.json"


def add_rows(location: Path, table: str, entities: Iterable[Mapping[str, Any]]) -> int:
    """Append ``entities`` (text, whole-number and Boolean columns) to ``table`` of
    the Azurite database in ``location``; the table must exist. Returns how many."""
    path = location / DATABASE
    db = json.loads(path.read_text(encoding="utf-8"))
    (rows,) = [c for c in db["collections"] if c["name"] == f"{DEV_ACCOUNT}${table}"]
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%f0Z")  # Azurite's 7-digit fractions
    created = int(now.timestamp() * 1000)
    added = 0
    for entity in entities:
        rows["maxId"] += 1
        rows["data"].append(
            {
                "PartitionKey": entity["PartitionKey"],
                "RowKey": entity["RowKey"],
                "properties": {**entity, "Timestamp": stamp, "Timestamp@odata.type": "Edm.DateTime"},
                "lastModifiedTime": stamp,
                "eTag": f"W/\"datetime'{stamp.replace(':', '%3A')}'\"",
                "meta": {"revision": 0, "created": created, "version": 0},
                "$loki": rows["maxId"],
            }
        )
        added += 1
    # Loki's binary indices: data positions in key order (the keys are ASCII, so
    # Python's order is JavaScript's).
    for name, index in rows["binaryIndices"].items():
        index["values"] = sorted(range(len(rows["data"])), key=lambda at: rows["data"][at][name])
        index["dirty"] = False
    path.write_text(json.dumps(db), encoding="utf-8")
    return added
