"""Microsoft Graph client (msgraph-sdk), built lazily: the SDK costs about 0.2 s
and 30 MB to import, so nothing imports it until a mail is sent or sign-in
evidence is read."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from azure.core.credentials_async import AsyncTokenCredential

if TYPE_CHECKING:
    from msgraph.graph_service_client import GraphServiceClient

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def graph_client(
    credential: AsyncTokenCredential, base_url: str, version: str = "v1.0"
) -> GraphServiceClient:
    """A Graph client for ``base_url`` (the real Graph, or the simulator on loopback).

    The scope is always Graph's, whatever the base URL: passing it explicitly stops
    the SDK deriving it from the URL. The token is only ever sent to that one host.
    """
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )

    # From the defining modules: the package __init__ does not re-export them explicitly.
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph.graph_service_client import GraphServiceClient

    host = urlsplit(base_url).hostname or ""
    auth = AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_SCOPE], allowed_hosts=[host])
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = f"{base_url.rstrip('/')}/{version}"
    return GraphServiceClient(request_adapter=adapter)


async def close_graph_client(client: GraphServiceClient) -> None:
    """Close the client's connections.

    msgraph-core (1.5.2) wraps the httpx transport in an ``AsyncGraphTransport`` that
    does not pass ``aclose()`` on, so closing the httpx client alone leaves its
    connection pool, and its sockets, open. Close the wrapped transport as well."""
    http = getattr(client.request_adapter, "_http_client", None)
    if http is None:
        return
    await http.aclose()
    inner = getattr(getattr(http, "_transport", None), "transport", None)
    if inner is not None:
        await inner.aclose()
