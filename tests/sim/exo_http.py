"""A tiny urllib client for the simulator's contract tests: real HTTP, no mocks.

Deliberately independent of the product's own Exchange client, so these tests
pin down what the sim does, not what the product expects.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any

from sim import SimServer, SimTenant

EXCHANGE = "https://outlook.office365.com"
ANCHOR = "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@"
SEEDED = 2500
# Overrides seeded into every exo_tenant: number -> SmtpClientAuthenticationDisabled.
SEEDED_OVERRIDES: dict[int, bool | None] = {3: False, 42: False, 1999: True}


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer to look at, never followed: it may name a real host."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# Never use a proxy, whatever the environment says, and never follow a redirect: all
# traffic stays on 127.0.0.1.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


@dataclass
class Reply:
    status: int
    headers: Message  # case-insensitive .get()
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def useful_message(self) -> str:
        return self.json["error"]["details"][0]["message"]


def http(
    method: str,
    url: str,
    *,
    body: Any = None,
    raw: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"refusing to send test traffic off loopback: {url}")
    # Scheme and host checked just above.
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))  # noqa: S310
    try:
        with _OPENER.open(request, timeout=30) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as err:
        with err:
            return Reply(err.code, err.headers, err.read())


def mint_token(server: SimServer, resource: str = EXCHANGE, client_id: str | None = None) -> Reply:
    url = f"{server.identity_endpoint}?api-version=2019-08-01&resource={resource}"
    if client_id:
        url += f"&client_id={client_id}"
    return http("GET", url, headers={"X-IDENTITY-HEADER": server.identity_header})


def cmdlet_body(cmdlet: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"CmdletInput": {"CmdletName": cmdlet, "Parameters": dict(params or {})}}


class ExoClient:
    """Speaks InvokeCommand to one tenant of the sim, as the product would."""

    def __init__(self, server: SimServer, tenant: SimTenant, token: str) -> None:
        self.server = server
        self.tenant = tenant
        self.token = token

    @property
    def url(self) -> str:
        return f"{self.server.exchange_url}/adminapi/beta/{self.tenant.tenant_id}/InvokeCommand"

    def headers(self, **overrides: str | None) -> dict[str, str]:
        """Default headers; pass name=None to drop one (underscores for dashes)."""
        base = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "X-AnchorMailbox": ANCHOR + self.tenant.tenant_id,
            "Prefer": "odata.maxpagesize=1000",
        }
        for name, value in overrides.items():
            key = name.replace("_", "-")
            base = {k: v for k, v in base.items() if k.lower() != key.lower()}
            if value is not None:
                base[key] = value
        return base

    def invoke(
        self,
        cmdlet: str,
        params: Mapping[str, Any] | None = None,
        *,
        select: str | None = None,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        target = url or self.url + (f"?$select={select}" if select else "")
        return http("POST", target, body=cmdlet_body(cmdlet, params), headers=headers or self.headers())

    def pages(
        self, cmdlet: str, params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Every page, following the nextLink with the same body (asserting 200s)."""
        out = []
        reply = self.invoke(cmdlet, params, **kwargs)
        while True:
            assert reply.status == 200, reply.raw[:500]
            out.append(reply.json)
            link = reply.json.get(self.server.next_link_key)
            if not link:
                return out
            kwargs.pop("select", None)
            reply = self.invoke(cmdlet, params, **{**kwargs, "url": link})
