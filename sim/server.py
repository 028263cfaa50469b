"""SimServer: the whole simulator on one 127.0.0.1 port, in a background thread.

It plays the managed identity endpoint and the Exchange Online admin API as
described in docs/simulator.md (Exchange admin API facts, with their public sources), so product code runs
unchanged against it with IDENTITY_ENDPOINT/IDENTITY_HEADER pointing at
`identity_endpoint`/`identity_header` and its Exchange URL set to `exchange_url`.

The aiohttp app runs on its own event loop in a daemon thread so synchronous
tests and product code on any loop can share one server; everything tests touch
(tenants, faults, records) is thread-safe.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Self

from aiohttp import web

from sim.app import build_app
from sim.directory import GLOBAL_AUDIENCE, FederatedCredential, Grant, SimApp, issuer_of, principal_id
from sim.faults import Faults
from sim.graph_mail import SENDER_PROBLEMS
from sim.graph_objects import GraphObjects
from sim.rate_limit import RateLimit
from sim.records import RequestRecord
from sim.sinks import FlowRun, SentMail, TeamsPost
from sim.state import NEXT_LINK_KEYS, SimState
from sim.tenant import SimTenant
from sim.tls import SimTLS
from sim.tokens import EXCHANGE_RESOURCE

HOST = "127.0.0.1"  # never anything else: the sim must not be reachable from outside


class SimServer:
    """Start with `with SimServer() as sim:` or `start()` / `stop()`."""

    def __init__(
        self,
        identity_header: str | None = None,
        *,
        port: int = 0,
        next_link_key: str = "@odata.nextLink",
        allowed_client_ids: Iterable[str] | None = None,
        token_lifetime_s: float = 3600.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """The same app is also served over TLS on a second 127.0.0.1 port (``tls_port``,
        ``entra_url``), with a certificate for 127.0.0.1 and localhost from the sim's own
        test CA (``ca_bundle``). ``tls``: serve that port with this server context instead
        (a test CA's certificate for names such as ``outlook.office365.com`` and
        ``*.outlook.office365.com``; then ``ca_bundle`` is not its CA): clients reach it
        through a resolver that maps those names to 127.0.0.1, so the product's URLs
        stay the real ones and nothing leaves loopback."""
        self._state = SimState(identity_header=identity_header or secrets.token_urlsafe(24))
        self._state.token_lifetime_s = token_lifetime_s
        self.next_link_key = next_link_key
        self.allowed_client_ids = allowed_client_ids
        self._requested_port = port
        self._port: int | None = None
        self._tls = tls
        self._sim_tls: SimTLS | None = None
        self._tls_port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("SimServer already started")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._open())
            except BaseException as exc:  # surfaced to start()'s caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._close())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="sim-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = self._loop = None
            raise failure[0]
        return self

    async def _open(self) -> None:
        # Short shutdown timeout: a test's stop() should not wait on idle keep-alives.
        self._runner = web.AppRunner(build_app(self._state), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, self._requested_port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        # The same app over TLS on a second port: the Entra token endpoint needs https
        # (azure-identity refuses a plain-http authority), with the sim's own test CA
        # unless the caller brought a context of its own (``tls=``, for real host names).
        self._sim_tls = SimTLS()
        context = self._tls if self._tls is not None else self._sim_tls.server_context()
        tls_site = web.TCPSite(self._runner, HOST, 0, ssl_context=context)
        await tls_site.start()
        self._tls_port = int(self._runner.addresses[1][1])

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._sim_tls is not None:
            self._sim_tls.close()
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.get_running_loop().shutdown_asyncgens()

    def stop(self) -> None:
        """Stop serving, close every connection and join the thread (idempotent)."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=15)
        if self._thread.is_alive():
            raise RuntimeError("SimServer thread did not stop")
        self._thread = self._loop = self._runner = None
        self._sim_tls = None
        self._tls_port = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where it is -------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("SimServer not started")
        return self._port

    @property
    def tls_port(self) -> int:
        """The TLS port (the sim's own certificate, or the ``tls=`` context's)."""
        if self._tls_port is None:
            raise RuntimeError("SimServer not started")
        return self._tls_port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def entra_url(self) -> str:
        """The Entra authority host over HTTPS (AZURE_AUTHORITY_HOST): token requests go to
        ``{entra_url}/{tenant}/oauth2/v2.0/token``."""
        if self._tls_port is None:
            raise RuntimeError("SimServer not started")
        return f"https://{HOST}:{self._tls_port}"

    @property
    def ca_bundle(self) -> str:
        """Path of the PEM file of the CA that issued the HTTPS certificate, for
        ``connection_verify=`` or SSL_CERT_FILE; deleted when the server stops."""
        if self._sim_tls is None:
            raise RuntimeError("SimServer not started")
        return self._sim_tls.ca_bundle

    @property
    def identity_endpoint(self) -> str:
        """Value for IDENTITY_ENDPOINT."""
        return f"{self.url}/msi/token"

    @property
    def identity_header(self) -> str:
        """Value for IDENTITY_HEADER (a throwaway local secret)."""
        return self._state.identity_header

    @property
    def exchange_url(self) -> str:
        """Base URL the product appends /adminapi/beta/... to."""
        return self.url

    # -- tenants -------------------------------------------------------------

    def add_tenant(
        self,
        tenant_id: str,
        initial_domain: str,
        *,
        org_smtp_auth_disabled: bool | None = True,
        forbidden: bool | str = False,
    ) -> SimTenant:
        tenant = SimTenant(tenant_id, initial_domain, org_smtp_auth_disabled)
        tenant.forbidden = forbidden
        return self._state.add_tenant(tenant)

    def tenant(self, id_or_domain: str) -> SimTenant:
        """The tenant by GUID or initial domain; KeyError if unknown."""
        found = self._state.find_tenant(id_or_domain)
        if found is None:
            raise KeyError(id_or_domain)
        return found

    def remove_tenant(self, id_or_domain: str) -> None:
        self._state.remove_tenant(id_or_domain)

    @property
    def tenants(self) -> list[SimTenant]:
        return self._state.tenants()

    # -- knobs -------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self._state.faults

    @property
    def next_link_key(self) -> str:
        """ "@odata.nextLink" (default) or "odata.nextLink" (the other spelling seen)."""
        return self._state.next_link_key

    @next_link_key.setter
    def next_link_key(self, value: str) -> None:
        if value not in NEXT_LINK_KEYS:
            raise ValueError(f"next_link_key must be one of {NEXT_LINK_KEYS}")
        self._state.next_link_key = value

    # -- Entra: the multi-tenant app and its consents (sim/directory.py) --------------

    def identity_principal_id(self, client_id: str | None = None) -> str:
        """The object (principal) id of the managed identity with ``client_id`` (default:
        the system-assigned one): the subject its federated credentials must name."""
        return principal_id(client_id or self._state.default_client_id)

    def register_app(
        self,
        app_id: str,
        *,
        home_tenant: str | None = None,
        trusts_client_id: str | None = None,
        issuer: str | None = None,
        subject: str | None = None,
        audience: str = GLOBAL_AUDIENCE,
        multi_tenant: bool = True,
    ) -> SimApp:
        """Register an app in ``home_tenant`` (default: the identity's) with one federated
        credential; by default it trusts the identity ``trusts_client_id`` exactly as
        docs/tenants.md tells admins to configure it. ``issuer``/``subject``/``audience``
        override a field, to play a credential configured wrong."""
        home = (home_tenant or self._state.identity_tenant_id() or "").lower()
        if not home:
            raise ValueError("no home tenant: pass home_tenant= or add a tenant first")
        credential = FederatedCredential(
            issuer=issuer or issuer_of(home),
            subject=subject or self.identity_principal_id(trusts_client_id),
            audiences=(audience,),
        )
        app = SimApp(app_id.lower(), home, [credential], multi_tenant)
        return self._state.directory.register_app(app)

    def consent(
        self,
        tenant: str,
        app_id: str,
        *,
        roles: Iterable[str] | None = None,
        directory_role: str | None = "Global Reader",
    ) -> Grant:
        """An admin of ``tenant`` consented to the app (its service principal exists there
        with the app roles ``roles``, default Exchange.ManageAsApp and AuditLog.Read.All)
        and assigned it ``directory_role`` (None: no role yet)."""
        grant = (
            Grant(directory_role=directory_role) if roles is None else Grant(frozenset(roles), directory_role)
        )
        return self._state.directory.consent(self.tenant(tenant).tenant_id, app_id, grant)

    def revoke_consent(self, tenant: str, app_id: str) -> None:
        """Delete the app's service principal in ``tenant`` (offboarding)."""
        self._state.directory.revoke(self.tenant(tenant).tenant_id, app_id)

    def clear_apps(self) -> None:
        """Forget every app registration and consent."""
        self._state.directory.clear()

    # -- Graph sign-in logs -----------------------------------------------------------

    @property
    def identity_tenant(self) -> str | None:
        """The tenant the managed identity lives in: its tokens are issued there, and
        Graph answers sign-in log reads with that tenant's logs. Unset (None), it is
        the first tenant registered; a tenant-bound token keeps its tenant."""
        return self._state.identity_tenant_id()

    @identity_tenant.setter
    def identity_tenant(self, value: str | None) -> None:
        self._state.identity_tenant = value.lower() if value else None

    def add_sign_in(self, entry: dict, tenant: str | None = None) -> None:
        """Add one sign-in log entry (build it with sim.graph_signins.sign_in) to
        `tenant`'s logs; None: the identity's tenant."""
        target = tenant or self._state.identity_tenant_id()
        if target is None:
            raise ValueError("no tenant to log the sign-in in: pass tenant= or add a tenant first")
        self._state.sign_ins.add(target, entry)

    def clear_sign_ins(self, tenant: str | None = None) -> None:
        """Forget `tenant`'s sign-in logs, or every tenant's."""
        self._state.sign_ins.clear(tenant)

    @property
    def sign_in_rate_limit(self) -> RateLimit | None:
        """Graph's throttling of the sign-in log, per app and tenant: by default the
        real 5 requests per 10 s (sim/rate_limit.py); None switches it off. Setting
        it forgets the requests counted so far."""
        return self._state.sign_in_limit

    @sign_in_rate_limit.setter
    def sign_in_rate_limit(self, value: RateLimit | None) -> None:
        self._state.sign_in_limit = value
        self._state.sign_in_window.reset()

    @property
    def before_sign_ins(self) -> Callable[[], None] | None:
        """Called on the server thread when a sign-in log request arrives (test hook)."""
        return self._state.before_sign_ins

    @before_sign_ins.setter
    def before_sign_ins(self, hook: Callable[[], None] | None) -> None:
        self._state.before_sign_ins = hook

    @property
    def graph_premium(self) -> bool:
        return self._state.graph_premium

    @graph_premium.setter
    def graph_premium(self, value: bool) -> None:
        self._state.graph_premium = value

    @property
    def next_link_origin(self) -> str | None:
        """When set (e.g. "http://127.0.0.2:1"), nextLinks point at that origin."""
        return self._state.next_link_origin

    @next_link_origin.setter
    def next_link_origin(self, value: str | None) -> None:
        self._state.next_link_origin = value

    @property
    def allowed_client_ids(self) -> frozenset[str] | None:
        """Client ids the identity endpoint serves; None = any.

        A request without client_id is the system-assigned identity, reported as
        `default_client_id`; include that id when restricting if it should work.
        """
        return self._state.allowed_client_ids

    @allowed_client_ids.setter
    def allowed_client_ids(self, value: Iterable[str] | None) -> None:
        self._state.allowed_client_ids = None if value is None else frozenset(v.lower() for v in value)

    @property
    def default_client_id(self) -> str:
        return self._state.default_client_id

    @property
    def identity_audience(self) -> str | None:
        """The audience every managed-identity token is minted for (None: as asked)."""
        return self._state.identity_audience

    @identity_audience.setter
    def identity_audience(self, value: str | None) -> None:
        self._state.identity_audience = value

    @property
    def token_lifetime_s(self) -> float:
        return self._state.token_lifetime_s

    @token_lifetime_s.setter
    def token_lifetime_s(self, value: float) -> None:
        self._state.token_lifetime_s = value

    def issue_token(
        self, resource: str = EXCHANGE_RESOURCE, client_id: str | None = None, tenant: str | None = None
    ) -> str:
        """Mint a token directly (not counted as a token request): for low-level tests.
        `tenant`: the tenant it is issued in (default: the identity's)."""
        token, _ = self._state.tokens.mint(
            resource,
            client_id or self._state.default_client_id,
            self._state.token_lifetime_s,
            tenant.lower() if tenant else self._state.identity_tenant_id(),
        )
        return token

    @property
    def issued_tokens(self) -> list[str]:
        """Every access token minted so far, a secret each: for tests that look for them
        in logs and stored rows."""
        return self._state.tokens.minted()

    def expire_tokens(self) -> None:
        """Expire every token minted so far (the next API call gets 401)."""
        self._state.tokens.expire_all()

    # -- what happened -------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Snapshot of every request so far, in completion order."""
        return self._state.recorder.requests

    @property
    def set_calls(self) -> list[RequestRecord]:
        """Snapshot of the Set-* InvokeCommand requests (any status; check .status)."""
        return self._state.recorder.set_calls

    @property
    def token_requests(self) -> int:
        """How many requests reached the managed identity endpoint."""
        return self._state.recorder.token_requests

    def reset_records(self) -> None:
        self._state.recorder.reset()
        self._state.sinks.clear()

    # -- notification sinks (Teams Workflows webhook, Graph sendMail) ----------------

    @property
    def graph_objects(self) -> GraphObjects:
        """Graph's service principals and app role assignments (the permission step)."""
        return self._state.graph_objects

    def add_teams_webhook(self) -> str:
        """A fresh Workflows-style webhook URL with its own ``sig=`` secret.

        Treat it like the real thing: a secret, never printed or logged."""
        workflow, sig = self._state.sinks.teams.register()
        return (
            f"{self.url}/workflows/{workflow}/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={sig}"
        )

    def break_teams_flow(
        self, url: str, reason: str | None = "The flow's owner no longer has access."
    ) -> None:
        """Make every run of the webhook's flow fail (``None``: work again), as a flow
        does whose owner left or that posts to a private channel: the webhook still
        answers 202 (audit: Workflows cannot post to private channels as the Flow
        bot, and a flow owned by a user who leaves stops working)."""
        workflow = url.split("/workflows/", 1)[1].split("/", 1)[0]
        self._state.sinks.teams.break_flow(workflow, reason)

    @property
    def teams_posts(self) -> list[TeamsPost]:
        """Snapshot of the Teams posts accepted so far (oldest first)."""
        return self._state.sinks.teams.posts

    @property
    def teams_runs(self) -> list[FlowRun]:
        """Snapshot of the Workflows flow runs so far (oldest first): what the flow's run
        history would show, including the cards it rejected after answering 202."""
        return self._state.sinks.teams.runs

    @property
    def sent_mails(self) -> list[SentMail]:
        """Snapshot of the mails accepted by sendMail so far (oldest first)."""
        return self._state.sinks.mail.mails

    @property
    def mail_senders(self) -> frozenset[str] | None:
        """Mailboxes the identity may send as (an application access policy); None = any."""
        return self._state.sinks.mail.allowed_senders

    @mail_senders.setter
    def mail_senders(self, value: Iterable[str] | None) -> None:
        self._state.sinks.mail.allowed_senders = (
            None if value is None else frozenset(v.lower() for v in value)
        )

    @property
    def mail_send_granted(self) -> bool:
        """The identity holds Mail.Send; False: sendMail is 403 ErrorAccessDenied."""
        return self._state.sinks.mail.send_granted

    @mail_send_granted.setter
    def mail_send_granted(self, value: bool) -> None:
        self._state.sinks.mail.send_granted = value

    def set_mail_sender_problem(self, address: str, code: str | None) -> None:
        """Make ``address`` a sender Graph refuses with 404 ``code`` (ErrorInvalidUser,
        ResourceNotFound, MailboxNotEnabledForRESTAPI); None: a good mailbox again."""
        problems = self._state.sinks.mail.sender_problems
        if code is None:
            problems.pop(address.lower(), None)
        elif code not in SENDER_PROBLEMS:
            raise ValueError(f"unknown sendMail sender problem {code!r}: one of {sorted(SENDER_PROBLEMS)}")
        else:
            problems[address.lower()] = code

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return f"SimServer({where}, tenants={len(self.tenants)})"
