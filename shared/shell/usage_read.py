"""What the ``usage`` report and ``exception suggest`` read for one tenant: the
sign-in evidence (the same reader and filter as remediation's guard), the org switch,
the default authentication policy, and the mailbox of each account that signed in
(``Get-CASMailbox -Identity``, in ``$batch`` rounds: a request per 10 accounts, no
scan of the tenant). Nothing is written anywhere.

A failure is said, never dropped: the logs unread are "evidence unavailable"; an
Exchange that cannot be read leaves the accounts listed with their mailbox unknown.
"""

from __future__ import annotations

import logging
from datetime import datetime

from azure.core.exceptions import AzureError

from shared.core.model import MailboxSetting, TenantPolicy
from shared.core.smtp_usage import TenantUsage, join, lookup_identity
from shared.shell.runtime import Runtime

log = logging.getLogger(__name__)


async def read_usage(runtime: Runtime, policy: TenantPolicy, days: int, now: datetime) -> TenantUsage:
    tenant = policy.tenant_id
    async with runtime.clients.use(tenant) as client:
        evidence = await client.evidence.read(now, days)  # never raises: unknown on failure
        users = evidence.users
        mailboxes: dict[str, MailboxSetting | str] = {}
        try:
            org: bool | None = await client.exchange.org_smtp_auth_disabled()
            basic_auth = await client.exchange.basic_auth_policy()
            if users:
                identities = list(dict.fromkeys(lookup_identity(u) for u in users))
                mailboxes = await client.exchange.read_mailboxes(identities)
        except AzureError as exc:
            problem = str(getattr(exc, "message", None) or exc).strip()
            log.warning("tenant %s: Exchange unreadable for the usage report: %s", tenant, problem)
            rows = join(users, {}, policy.exceptions, None, now)
            error = f"Exchange Online could not be read: {problem}"
            return TenantUsage(tenant, policy.initial_domain, days, evidence, rows=rows, error=error)
    rows = join(users, mailboxes, policy.exceptions, org, now)
    return TenantUsage(tenant, policy.initial_domain, days, evidence, org, basic_auth, rows)
