"""What the notification endpoints received: mails (Graph sendMail) and Teams
Workflows webhook posts, kept for test assertions and the demo. Thread-safe: the
server thread adds, the test thread reads.

Only what reached the channel lands in the posts (what a person would actually
see). A Workflows webhook answers 202 before its flow runs, so a card the flow
rejects is a failed run in the flow run log only, as in the flow's run history;
requests refused at the door (401, 404, faults) are in the request records.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SentMail:
    sender: str  # the {id} of /users/{id}/sendMail
    subject: str
    content_type: str  # "html" or "text", as Graph spells it
    content: str
    to: tuple[str, ...]
    save_to_sent_items: bool | None
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class TeamsPost:
    workflow: str
    payload: dict[str, Any]  # the whole {"type": "message", "attachments": [...]} body
    size: int  # bytes as received
    at: float = field(default_factory=time.time)

    @property
    def card(self) -> dict[str, Any]:
        """The Adaptive Card of the first attachment."""
        return self.payload["attachments"][0]["content"]


@dataclass(frozen=True)
class FlowRun:
    """One run of a Workflows flow, as its run history shows it."""

    workflow: str
    status: str  # "Succeeded" or "Failed"
    error: str | None  # why the run failed
    size: int  # bytes of the request that started it
    at: float = field(default_factory=time.time)


class MailSink:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mails: list[SentMail] = []
        # Mailboxes the identity may send as (an application access policy);
        # None = any.
        self.allowed_senders: frozenset[str] | None = None
        # The identity holds Mail.Send (application); False: every send is 403.
        self.send_granted = True
        # Senders Graph cannot send as: lower-cased address -> its 404 error code.
        self.sender_problems: dict[str, str] = {}

    def add(self, mail: SentMail) -> None:
        with self._lock:
            self._mails.append(mail)

    def may_send_as(self, sender: str) -> bool:
        allowed = self.allowed_senders
        return allowed is None or sender.lower() in allowed

    @property
    def mails(self) -> list[SentMail]:
        with self._lock:
            return list(self._mails)

    def clear(self) -> None:
        with self._lock:
            self._mails.clear()


class WebhookSink:
    """Registered Workflows webhooks (id -> signature) and what they received."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signatures: dict[str, str] = {}
        self._posts: list[TeamsPost] = []
        self._runs: list[FlowRun] = []
        self._broken: dict[str, str] = {}  # workflow -> why each of its runs fails

    def register(self) -> tuple[str, str]:
        workflow, sig = uuid.uuid4().hex, secrets.token_urlsafe(32)
        with self._lock:
            self._signatures[workflow] = sig
        return workflow, sig

    def signature(self, workflow: str) -> str | None:
        with self._lock:
            return self._signatures.get(workflow)

    def add(self, post: TeamsPost) -> None:
        with self._lock:
            self._posts.append(post)

    def break_flow(self, workflow: str, reason: str | None) -> None:
        with self._lock:
            if reason is None:
                self._broken.pop(workflow, None)
            else:
                self._broken[workflow] = reason

    def broken(self, workflow: str) -> str | None:
        with self._lock:
            return self._broken.get(workflow)

    def add_run(self, run: FlowRun) -> None:
        with self._lock:
            self._runs.append(run)

    @property
    def posts(self) -> list[TeamsPost]:
        with self._lock:
            return list(self._posts)

    @property
    def runs(self) -> list[FlowRun]:
        with self._lock:
            return list(self._runs)

    def clear(self) -> None:
        """Forget what was received; registered webhooks stay valid."""
        with self._lock:
            self._posts.clear()
            self._runs.clear()


@dataclass
class Sinks:
    """Both sinks, as one field of SimState."""

    mail: MailSink = field(default_factory=MailSink)
    teams: WebhookSink = field(default_factory=WebhookSink)

    def clear(self) -> None:
        self.mail.clear()
        self.teams.clear()
