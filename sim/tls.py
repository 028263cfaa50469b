"""A throwaway certificate authority for the simulator's HTTPS endpoints.

azure-identity refuses a plain-http authority (also on loopback), so the simulated
Entra token endpoint is served over TLS with a certificate for 127.0.0.1 and
localhost, issued by a CA made fresh for each SimServer (trustme). Clients trust it
only the standard ways: ``connection_verify=<ca_bundle>`` on a credential, or
``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE`` set before a process starts. Nothing
ever turns verification off.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile

import trustme


class SimTLS:
    """The CA, a server context for the sim's HTTPS site, and the CA as a PEM file."""

    def __init__(self) -> None:
        self._ca = trustme.CA(organization_name="SMTP AUTH Guard simulator (test only)")
        self._cert = self._ca.issue_cert("127.0.0.1", "localhost")
        fd, path = tempfile.mkstemp(prefix="sim-ca-", suffix=".pem")
        with os.fdopen(fd, "wb") as out:
            out.write(self._ca.cert_pem.bytes())
        self.ca_bundle = path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        return context

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.ca_bundle)
