"""host.json sets the queue trigger's settings explicitly (the reasons are in
docs/operations.md), with the values the code relies on."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from shared.store.lock import CHECK_LEASE

QUEUES = json.loads((Path(__file__).resolve().parents[2] / "host.json").read_text())["extensions"]["queues"]


def span(text: str) -> timedelta:
    h, m, s = (int(p) for p in text.split(":"))
    return timedelta(hours=h, minutes=m, seconds=s)


def test_every_queue_setting_the_extension_defaults_is_set():
    assert set(QUEUES) >= {
        "batchSize",
        "newBatchThreshold",
        "maxDequeueCount",
        "visibilityTimeout",
        "messageEncoding",
    }


def test_few_exchange_checks_run_at_once_per_instance():
    # The extension's default would run up to 16 + 8 x cores checks per instance.
    assert QUEUES["batchSize"] + QUEUES["newBatchThreshold"] <= 4


def test_a_retry_waits_out_a_dead_workers_check_lease():
    assert span(QUEUES["visibilityTimeout"]) >= CHECK_LEASE


def test_a_failing_check_is_retried_but_poisoned_soon():
    assert 2 <= QUEUES["maxDequeueCount"] <= 5


def test_messages_are_base64_as_the_timer_writes_them():
    assert QUEUES["messageEncoding"] == "base64"  # shared/adapters/check_queue.py: TextBase64EncodePolicy
