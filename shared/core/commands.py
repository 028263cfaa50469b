"""The commands that messages tell people to run, built in one place so every
finding, held action, card, mail and report spells them the same way: the admin
CLI's (the same as the CLI parses them; tenant-supplied parts shell-quoted) and the
Exchange Online PowerShell fixes (``Set-TransportConfig`` / ``Set-CASMailbox``)."""

from __future__ import annotations

import re
import shlex
import string
from datetime import date
from urllib.parse import quote, urlencode

from shared.core.limits import DEFAULT_TOKEN_EXCHANGE_AUDIENCE

# The console script `pip install .` puts on PATH; `python -m shared` runs the same.
CLI = "smtp-auth-guard"


def _arg(text: str, placeholder: str) -> str:
    """One shell argument. Text with a control or bidi character (a key typed into
    Table Storage can hold one) would make the command read otherwise than it runs:
    the placeholder stands in for it."""
    return shlex.quote(text) if text.isprintable() else placeholder


def exception_add(tenant: str, mailbox: str = "ADDRESS", expires: date | None = None) -> str:
    """``expires`` None: the placeholder YYYY-MM-DD (REASON, APPROVER and TICKET always are)."""
    until = expires.isoformat() if expires else "YYYY-MM-DD"
    return (
        f"{CLI} exception add --tenant {_arg(tenant, 'TENANT')} --mailbox {_arg(mailbox, 'ADDRESS')} "
        # --ticket is optional to the CLI, but an approval an auditor can trace has one.
        f"--reason REASON --approver APPROVER --ticket TICKET --expires {until}"
    )


def exception_remove(tenant: str, mailbox: str = "ADDRESS") -> str:
    return f"{CLI} exception remove --tenant {_arg(tenant, 'TENANT')} --mailbox {_arg(mailbox, 'ADDRESS')}"


def exception_list(tenant: str) -> str:
    return f"{CLI} exception list --tenant {_arg(tenant, 'TENANT')}"


def tenant_add(tenant: str = "TENANT") -> str:
    return f"{CLI} tenant add --tenant {_arg(tenant, 'TENANT')} --domain DOMAIN"


def tenant_onboard(tenant: str = "TENANT") -> str:
    return f"{CLI} tenant onboard --tenant {_arg(tenant, 'TENANT')} --domain DOMAIN"


def tenant_verify(tenant: str) -> str:
    return f"{CLI} tenant verify --tenant {_arg(tenant, 'TENANT')}"


def tenant_set(tenant: str, options: str = "OPTION ...") -> str:
    """``options`` is a literal the caller writes (e.g. ``--notify-email ADDRESS``)."""
    return f"{CLI} tenant set --tenant {_arg(tenant, 'TENANT')} {options}"


def tenant_show(tenant: str) -> str:
    return f"{CLI} tenant show --tenant {_arg(tenant, 'TENANT')}"


def check(tenant: str | None = None, *, json: bool = False) -> str:
    # A tenant that cannot be named as itself: a check of all shows its error too.
    named = f" --tenant {shlex.quote(tenant)}" if tenant and tenant.isprintable() else ""
    return f"{CLI} check{named}" + (" --json" if json else "")


def audit(tenant: str) -> str:
    return f"{CLI} audit --tenant {_arg(tenant, 'TENANT')}"


# -- a customer tenant's admin consent (docs/tenants.md) ---------------------------

# Where a customer's admin signs in, per cloud, keyed by the token exchange audience:
# the one setting that names the deployment's cloud (AZURE_AUTHORITY_HOST may point
# at a stand-in; the consent link goes to the customer's real sign-in page).
CONSENT_HOSTS = {
    "api://AzureADTokenExchange": "https://login.microsoftonline.com",
    "api://AzureADTokenExchangeUSGov": "https://login.microsoftonline.us",
    "api://AzureADTokenExchangeChina": "https://login.chinacloudapi.cn",
}
# The resource the product's Exchange tokens are for (adapters.exchange_transport's
# EXCHANGE_SCOPE): consenting to it grants the app's Exchange.ManageAsApp there, and
# the Graph permissions the app registration lists with it.
CONSENT_SCOPE = "https://outlook.office365.com/.default"


def admin_consent_url(tenant: str, app_id: str, audience: str = DEFAULT_TOKEN_EXCHANGE_AUDIENCE) -> str:
    """The link a customer tenant's admin opens to consent to the multi-tenant app
    (Exchange app-only doc, step 4b)."""
    query = urlencode({"client_id": app_id, "scope": CONSENT_SCOPE}, safe=":/")
    return f"{CONSENT_HOSTS[audience]}/{quote(tenant, safe='')}/adminconsent?{query}"


def exchange_role_group_commands(app_id: str) -> tuple[str, str]:
    """Exchange Online PowerShell, in the customer tenant, that puts the app's service
    principal in a custom Exchange role group instead of a directory role (its
    object id differs in every tenant; the app id is the same everywhere)."""
    app = powershell_quote(app_id)
    return (
        f"New-ServicePrincipal -AppId {app} -ObjectId SP_OBJECT_ID",
        "Add-RoleGroupMember -Identity ROLE_GROUP -Member SP_OBJECT_ID",
    )


# -- Exchange Online PowerShell ----------------------------------------------------

# Characters that need no quoting in a PowerShell argument: GUIDs and addresses.
_PS_BARE = frozenset(string.ascii_letters + string.digits + "@._+-")
# PowerShell reads the typographic single quotes as quotes too: each is doubled.
_PS_QUOTES = re.compile("(['\u2018\u2019\u201a\u201b])")


def powershell_value(value: bool | None) -> str:
    """A value of SmtpClientAuthenticationDisabled as PowerShell spells it."""
    return "$null" if value is None else ("$true" if value else "$false")


def powershell_quote(text: str) -> str:
    """One PowerShell argument: bare when safe, else a single-quoted literal (no
    variables or subexpressions are expanded inside single quotes)."""
    if text and _PS_BARE.issuperset(text) and not text.startswith("-"):
        return text
    return "'" + _PS_QUOTES.sub(r"\1\1", text) + "'"


def set_transport_config(value: bool | None) -> str:
    """The organization switch: True turns SMTP AUTH off for everyone who follows it."""
    return f"Set-TransportConfig -SmtpClientAuthenticationDisabled {powershell_value(value)}"


def set_cas_mailbox(identity: str, value: bool | None) -> str:
    """One mailbox's override (``identity``: its GUID, which stays with the mailbox
    when addresses are reused; ``ADDRESS`` as a placeholder): True off, False ON even
    when the org has it off, None follow the org."""
    target = identity if identity == "ADDRESS" else powershell_quote(identity)
    return f"Set-CASMailbox -Identity {target} -SmtpClientAuthenticationDisabled {powershell_value(value)}"
