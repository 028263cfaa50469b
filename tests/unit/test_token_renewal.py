"""Which 401s refuse the token itself (renewed once) and which do not, on the shapes
the services answer (team reference, "Error bodies"; a captured Exchange 401)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from shared.adapters.token_renewal import fresh_token_claims, refuses_token

# The challenge of an Exchange Online 401 for a token it did not take, as a public
# troubleshooting note captured it (2026), with the client_id the simulator sends.
EXCHANGE_CHALLENGE = (
    'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
    'token_types="app_asserted_user_v1 service_asserted_app_v1", '
    'authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="invalid_token"'
)
NOT_ALLOWED = json.dumps(
    {"error": {"code": "Unauthorized", "message": "User is not allowed to call Get-Mailbox"}}
)
GRAPH_EXPIRED = json.dumps(
    {
        "error": {
            "code": "InvalidAuthenticationToken",
            "message": "Lifetime validation failed, the token is expired.",
        }
    }
)
CAE = 'Bearer realm="", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnt9fQ=="'


@dataclass
class Answer:
    status_code: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        return self.body


@pytest.mark.parametrize(
    ("answer", "refused"),
    [
        (Answer(401, "", {"WWW-Authenticate": EXCHANGE_CHALLENGE}), True),
        (Answer(401, GRAPH_EXPIRED), True),
        (Answer(401, '{"error": {"message": "The bearer token has expired."}}'), True),
        # The missing role: the token is good, whatever the challenge says.
        (Answer(401, NOT_ALLOWED, {"WWW-Authenticate": EXCHANGE_CHALLENGE}), False),
        (Answer(401, NOT_ALLOWED), False),
        (Answer(401, "", {"WWW-Authenticate": CAE}), False),  # azure-core answers CAE itself
        (Answer(401, "", {"WWW-Authenticate": 'Bearer realm=""'}), False),
        (Answer(403, GRAPH_EXPIRED, {"WWW-Authenticate": EXCHANGE_CHALLENGE}), False),
    ],
)
def test_which_401_refuses_the_token(answer, refused):
    assert refuses_token(answer) is refused


def test_the_claims_ask_for_a_token_issued_not_before_now():
    assert json.loads(fresh_token_claims(1767225600.7)) == {
        "access_token": {"nbf": {"essential": True, "value": "1767225600"}}
    }
