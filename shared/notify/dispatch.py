"""One notification cycle: derive events -> compose -> outbox -> send.

Queuing and sending are separate steps on purpose: everything is in the outbox
before the first send, so a send that fails or a run that dies loses nothing; the
next run sends what is due (new notifications and earlier failures alike).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from shared.adapters.sendmail import MailSender
from shared.adapters.teams_webhook import TeamsSender, redact, webhook_url
from shared.core.delivery import Channel, DeliveryError, Stream, Target
from shared.core.limits import CARD_MAX_KB, NOTIFY_MAX_ATTEMPTS, REMINDER_HOURS
from shared.core.model import CheckResult, Status, TenantLoad
from shared.notify import card, mail_html
from shared.notify.compose import compose
from shared.notify.digest import TenantDigest, compose_digest
from shared.notify.digest import identity as digest_identity
from shared.notify.events import Memory, derive, failing_since, needs_first_seen, next_memory, reminder_due
from shared.notify.message import Message, fit
from shared.notify.outbox_rules import (
    next_attempt,
    notification_key,
    ops_targets,
    targets,
    tells_ops,
    with_ops,
)
from shared.notify.repeat import as_possible_repeat
from shared.notify.undelivered import Undelivered, with_undelivered
from shared.store.outbox import MAX_PAYLOAD_CHARS, OutboxRow, OutboxStore
from shared.store.runs import HistoryReader
from shared.store.tables import is_missing_table

log = logging.getLogger(__name__)


def outbox_payload(message: Message) -> str:
    """The message as the outbox keeps it: shortened to fit one table property (fewer
    lines, "and N more"), never cut mid-JSON."""
    return fit(message, lambda m: len(m.to_json()), MAX_PAYLOAD_CHARS).to_json()


class NotifySettings(Protocol):
    """The app settings the notifier reads (shared.shell.settings.Settings has them):
    named here so notify depends on no shell module."""

    @property
    def mail_sender(self) -> str | None: ...
    @property
    def reminder_hours(self) -> float: ...
    @property
    def notify_max_attempts(self) -> int: ...
    @property
    def card_max_kb(self) -> int: ...
    @property
    def ops_email(self) -> tuple[str, ...]: ...
    @property
    def ops_teams_setting(self) -> str | None: ...


@dataclass(frozen=True)
class NotifyConfig:
    mail_sender: str | None = None
    remind_every: timedelta | None = timedelta(hours=REMINDER_HOURS.default)
    max_attempts: int = NOTIFY_MAX_ATTEMPTS.default
    card_limit_bytes: int = CARD_MAX_KB.default * 1024
    # Where webhook app settings are looked up (the process environment in Azure,
    # where the host has already resolved Key Vault references).
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    # The operators' copies of every tenant's could-not-check messages (tells_ops).
    ops: tuple[Target, ...] = ()

    @classmethod
    def from_settings(cls, settings: NotifySettings, env: Mapping[str, str] | None = None) -> NotifyConfig:
        hours = settings.reminder_hours
        return cls(
            mail_sender=settings.mail_sender,
            remind_every=timedelta(hours=hours) if hours > 0 else None,
            max_attempts=settings.notify_max_attempts,
            card_limit_bytes=settings.card_max_kb * 1024,
            env=os.environ if env is None else env,
            ops=ops_targets(settings.ops_email, settings.ops_teams_setting),
        )


@dataclass
class Delivery:
    """What one delivery pass did, one line per copy (no secrets in them)."""

    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)


class Notifier:
    def __init__(
        self,
        outbox: OutboxStore,
        config: NotifyConfig,
        *,
        teams: TeamsSender,
        mail: MailSender,
        clock: Callable[[], datetime],  # the runtime's, shared with the engine and the remediator
    ) -> None:
        self.outbox = outbox
        self.config = config
        self.teams = teams
        self.mail = mail
        self.clock = clock

    # -- queuing ---------------------------------------------------------------------

    async def queue_results(self, results: Sequence[CheckResult], history: HistoryReader) -> int:
        """Queue what each tenant's run has to tell; returns how many were queued."""
        queued = 0
        for result in results:
            try:
                queued += await self._queue_result(result, history)
            except Exception as exc:
                # The check itself stands and other tenants go on; this alert is lost,
                # so say so loudly (storage down, a deleted table, or a bug).
                deleted = is_missing_table(exc)
                why = " (a table of the app was deleted; it is created again next run)" if deleted else ""
                log.exception("tenant %s: could not queue its notification%s", result.tenant_id, why)
        return queued

    async def _queue_result(self, result: CheckResult, history: HistoryReader) -> int:
        tenant = result.tenant_id
        # A broken row's own recipients, as far as they parse, hear of it too.
        own = targets(result.policy or result.recipients)
        if not own and result.policy is None and result.status is Status.ERROR:
            log.warning("tenant %s could not be checked; no readable tenant row names recipients", tenant)
        if not own and not self.config.ops:
            return 0
        head = await self.outbox.head(tenant, Stream.EVENTS)
        memory = Memory(head.last_at, head.told)
        every = self.config.remind_every
        first_seen: dict[str, datetime] = {}
        if needs_first_seen(result, memory, every):
            first_seen = {key: o.first_seen for key, o in (await history.open_findings(tenant)).items()}
        error_since = None
        if result.status is Status.ERROR and reminder_due(result, memory.last_notified, every):
            error_since = failing_since(await history.runs(tenant, 100))
        events = derive(result, memory, first_seen=first_seen, remind_every=every, error_since=error_since)
        told = next_memory(result, memory)
        # Operators' copies go in the same notification (one key, one transaction), so
        # they are queued once exactly as the tenant's are.
        to = with_ops(own, self.config.ops) if tells_ops(events) else own
        if not events or not to:
            await self.outbox.remember(tenant, head, told)
            return 0
        message = compose(result, events, remind_every=every)
        identities = [e.identity for e in events]
        created = await self.outbox.enqueue(
            tenant,
            Stream.EVENTS,
            # Keyed on the run this one was compared with when known: two overlapping
            # runs that saw the same change derive the same key, whenever each queues.
            lambda h: notification_key(
                Stream.EVENTS,
                tenant,
                h.seq if result.previous_run is None else result.previous_run,
                identities,
            ),
            message.title,
            outbox_payload(message),
            to,
            result.checked_at,
            told=told,
            head=head,
        )
        if created:
            where = ", ".join(f"{t.channel} (ops)" if t.ops else str(t.channel) for t in to)
            log.info("tenant %s: queued %r for %s", tenant, message.title, where)
        return int(created)

    async def queue_digests(self, loads: Sequence[TenantLoad], history: HistoryReader) -> int:
        """Queue each tenant's digest; returns how many were queued."""
        queued = 0
        for load in loads:
            try:
                queued += await self.queue_digest(load, history)
            except Exception:  # one tenant's digest never stops the others
                log.exception("tenant %s: could not queue its digest", load.tenant_id)
        return queued

    async def queue_digest(self, load: TenantLoad, history: HistoryReader) -> bool:
        """Queue one tenant's digest; False when it has no recipients or has had
        today's already."""
        policy = load.policy
        to = targets(policy)
        if policy is None or not to:
            return False
        tenant = policy.tenant_id
        now = self.clock()
        last = await history.runs(tenant, 1)
        success = await history.last_successful_run(tenant)
        open_findings = await history.open_findings(tenant)
        digest = TenantDigest(
            policy=policy,
            status=last[0].status if last else None,
            last_checked=last[0].checked_at if last else None,
            last_success=success.checked_at if success else None,
            open_findings=sorted(
                ((o.finding, o.first_seen) for o in open_findings.values()), key=lambda p: p[0].sort_key
            ),
            problems=load.errors,
            org_actual=success.org_actual if success else None,
            basic_auth=success.basic_auth if success else None,
        )
        key = notification_key(Stream.DIGEST, tenant, None, [digest_identity(now)])
        message = compose_digest(digest, now)
        return await self.outbox.enqueue(
            tenant, Stream.DIGEST, lambda _: key, message.title, outbox_payload(message), to, now
        )

    # -- sending -----------------------------------------------------------------------

    async def deliver(self, tenants: Iterable[str]) -> Delivery:
        """Send every copy that is due for these tenants, oldest first."""
        done = Delivery()
        for tenant in dict.fromkeys(tenants):
            try:
                await self._deliver_tenant(tenant, done)
            except Exception:
                # Whatever was not sent is still in the outbox for the next run.
                log.exception("tenant %s: delivery stopped", tenant)
        return done

    async def _deliver_tenant(self, tenant: str, done: Delivery) -> None:
        now = self.clock()
        due = await self.outbox.due(tenant, now)
        if not due:
            return
        dead = await self.outbox.undelivered(tenant)
        notice = _notice(dead)
        for row in due:
            # The lease starts when the row is claimed, not when the pass began: a long
            # pass must not claim rows with leases that have already run out.
            claimed = await self.outbox.claim(row, self.clock())
            if claimed is None:
                continue  # another run is sending it
            what = f"{claimed.channel}: {claimed.title}"
            try:
                message = with_undelivered(Message.from_json(claimed.payload), notice)
                if claimed.maybe_sent:
                    message = as_possible_repeat(message)
            except (ValueError, KeyError, TypeError) as exc:  # never retry a row that cannot be read
                await self._give_up(claimed, f"unreadable message in the outbox: {exc!r}", now, done)
                continue
            try:
                await self._send(claimed, message)
            except Exception as exc:
                if not isinstance(exc, DeliveryError):
                    log.exception("tenant %s: unexpected error sending %s", tenant, what)
                    exc = DeliveryError(self._safe_text(claimed, f"{type(exc).__name__}: {exc}"))
                if exc.permanent or claimed.attempts >= self.config.max_attempts:
                    await self._give_up(claimed, str(exc), now, done)
                    # Told in the next copy that gets through, even later in this pass
                    # (the Teams copy of the mail that could not go out), read back for
                    # the ETags that mark it reported.
                    dead = await self.outbox.undelivered(tenant)
                    notice = _notice(dead)
                else:
                    retry_at = next_attempt(claimed.attempts, now, exc.retry_after)
                    await self.outbox.mark_failed(claimed, str(exc), retry_at, maybe_sent=exc.maybe_sent)
                    log.warning(
                        "tenant %s: %s not sent (attempt %d), retrying from %s: %s",
                        tenant, what, claimed.attempts, retry_at.isoformat(), exc,
                    )  # fmt: skip
                    done.failed.append(what)
                continue
            await self.outbox.mark_sent(claimed, now)
            done.sent.append(what)
            if notice:  # told now: the next messages need not repeat it
                await self.outbox.mark_reported(dead)
                notice, dead = [], []

    def _safe_text(self, row: OutboxRow, text: str) -> str:
        """An unexpected error's text, with the webhook URL and its secrets taken out."""
        if row.channel is Channel.TEAMS:
            url = (self.config.env.get(row.address) or "").strip()
            if url:
                text = redact(text, url)
        return text

    async def _give_up(self, row: OutboxRow, error: str, now: datetime, done: Delivery) -> None:
        await self.outbox.mark_dead(row, error, now)
        what = f"{row.channel}: {row.title}"
        log.error("tenant %s: gave up on %s after %d attempt(s): %s", row.tenant, what, row.attempts, error)
        done.dead.append(what)

    async def _send(self, row: OutboxRow, message: Message) -> None:
        if row.channel is Channel.TEAMS:
            url = webhook_url(row.address, self.config.env)
            await self.teams.send(
                url, card.payload(message, self.config.card_limit_bytes), setting=row.address
            )
            return
        sender = self.config.mail_sender
        if not sender:
            raise DeliveryError("SMTPAUTH_MAIL_SENDER is not set: there is no mailbox to send from")
        mail = mail_html.render(message)
        await self.mail.send(sender, [a for a in row.address.split(";") if a], mail.subject, mail.html)


def _notice(dead: Sequence[OutboxRow]) -> list[Undelivered]:
    return [Undelivered(r.title, str(r.channel), r.created_at, r.last_error, r.attempts) for r in dead]
