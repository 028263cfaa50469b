"""A service a command or run depends on could not be reached: the message names
the service and the setting that points at it, so the admin knows what to fix."""

from __future__ import annotations

from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError

EXCHANGE = "Exchange Online at SMTPAUTH_EXCHANGE_URL"
TABLES = "Table Storage at {setting}"


class ServiceUnreachable(Exception):
    """A connection to ``service`` failed (the pipeline's retries included)."""

    def __init__(self, service: str, cause: BaseException) -> None:
        super().__init__(describe(service, cause))
        self.service = service


def is_connection_error(exc: BaseException) -> bool:
    """No answer at all: the connection failed or broke (a token failure is not one:
    that is the identity's, and says so itself)."""
    return isinstance(exc, ServiceRequestError | ServiceResponseError) and not isinstance(
        exc, ClientAuthenticationError
    )


def describe(service: str, exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip() or type(exc).__name__
    if isinstance(exc, ServiceResponseError):
        return f"no answer from {service}: {text}"
    return f"could not reach {service}: {text}"
