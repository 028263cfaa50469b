"""Every limit and default a person can set, defined once.

App settings (shell/settings.py), desired-state rows (store/rows.py), the CLI and the
model's defaults all read them here, so what ``tenant add`` accepts is exactly what
the row loader accepts on the next run. Plain values, stdlib only: the function app
reads the schedule defaults while the host indexes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Bounds:
    """An inclusive range and the default inside it."""

    low: int
    high: int
    default: int
    why: str = ""  # said with the limit when a value is refused

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


# -- desired state, per tenant (docs/desired-state.md) ---------------------------

# Entra ID keeps sign-in logs for 30 days: a longer window would read as "no use".
EVIDENCE_DAYS = Bounds(1, 30, 30, why="sign-in logs keep 30 days")
MAX_CHANGES_PER_RUN = Bounds(0, 1000, 25)
# Hours remediation waits after drift is first seen before it turns SMTP AUTH off:
# OAuth SMTP senders leave no SMTP sign-in, so no evidence proves a mailbox unused,
# and the owner needs time to record an exception. 0: act at once. 30 days at most:
# drift left longer is report mode, said as such.
GRACE_HOURS = Bounds(0, 30 * 24, 24, why="0: act at once; longer than 30 days is report mode")
# How often a tenant is checked, in minutes; 0: at every timer tick. A week at most:
# a tenant checked more rarely is hardly monitored.
INTERVAL_MINUTES = Bounds(0, 7 * 24 * 60, 0, why="0: every timer tick")
# A tenant is overdue when it has not been checked successfully for this many of its
# intervals (its own, or the timer's tick when that is longer).
OVERDUE_INTERVALS = 3
# How remediation sets an unapproved mailbox: explicitly off (safe even if the org
# switch is flipped later), or back to following the org ($null).
MAILBOX_FIX: Mapping[str, bool | None] = MappingProxyType({"disable": True, "org-default": None})
DEFAULT_MAILBOX_FIX = "disable"
# Any one text field of a row (reason, ticket, approver, addresses, domain).
TEXT_MAX = 1024
# The longest an exception may be approved for, from the day it is written (README
# "Settings", SMTPAUTH_MAX_EXCEPTION_DAYS): an approval is looked at again at least
# this often. Checked when the CLI writes one, not on rows already stored.
EXCEPTION_DAYS = Bounds(1, 3650, 730)

# -- CLI ---------------------------------------------------------------------------

# Rows shown by `history` and `audit`; one Table Storage page holds 1,000.
HISTORY_LIMIT = Bounds(1, 1000, 10)
AUDIT_LIMIT = Bounds(1, 1000, 50)

# -- app settings (README "Settings") ----------------------------------------------

DEFAULT_EXCHANGE_URL = "https://outlook.office365.com"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
DEFAULT_SCHEDULE = "0 */15 * * * *"
DEFAULT_DIGEST_SCHEDULE = "0 0 7 * * 1"  # Mondays 07:00 UTC (NCRONTAB, with seconds)
DEFAULT_TABLE_PREFIX = "SmtpAuth"
# Table names are at most 63 characters; the longest suffix ("Desired") needs 7.
TABLE_PREFIX_MAX = 40
PARALLEL_TENANTS = Bounds(1, 32, 4)
REMINDER_HOURS = Bounds(0, 24 * 90, 24, why="0: no reminders")
NOTIFY_MAX_ATTEMPTS = Bounds(1, 50, 8)
# A Teams card's budget in KB (1,024 bytes) of JSON as posted. Teams documents about
# 28 KB, a maintained client measured about 21 KB before a 413, and a Workflows flow
# drops an oversized card without telling the sender: 20 by default, never above 27.
CARD_MAX_KB = Bounds(4, 27, 20, why="Teams drops larger cards without telling the sender")
# The queue the timer fans out to (one message per due tenant). Storage queue names:
# 3-63 lower-case letters, digits and single hyphens; "-poison" (7) must still fit.
DEFAULT_CHECK_QUEUE = "smtpauth-checks"
QUEUE_NAME_MAX = 63 - len("-poison")

# -- customer tenants through a multi-tenant app (docs/tenants.md) ------------------

# The audience of the managed identity's token that the app's federated credential
# trusts, one per cloud (Entra "Configure an application to trust a managed identity").
TOKEN_EXCHANGE_AUDIENCES = (
    "api://AzureADTokenExchange",
    "api://AzureADTokenExchangeUSGov",
    "api://AzureADTokenExchangeChina",
)
DEFAULT_TOKEN_EXCHANGE_AUDIENCE = TOKEN_EXCHANGE_AUDIENCES[0]


# Bounded retries for Table Storage and the queue. azure-core's defaults (10 tries,
# 300 s per read) would let one storage endpoint that accepts and never answers hold
# a run past the function's 10-minute timeout, and a run stopped by the host records
# nothing. With these a dead request ends within about two minutes, and the run says
# "could not record" while it still can. Table operations finish server-side within
# 30 s, so a healthy answer is never cut off.
STORAGE_PIPELINE: Mapping[str, Any] = MappingProxyType(
    {
        "connection_timeout": 10,
        "read_timeout": 30,
        "retry_total": 3,
    }
)
