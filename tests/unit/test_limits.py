"""One limit, enforced alike: what `tenant add` refuses is what the row loader
refuses on the next run (a row the CLI wrote never turns its tenant "could not
check"), and the model's defaults are the limits' defaults."""

from __future__ import annotations

import pytest

from shared.core.limits import (
    DEFAULT_MAILBOX_FIX,
    EVIDENCE_DAYS,
    MAILBOX_FIX,
    MAX_CHANGES_PER_RUN,
    TEXT_MAX,
    Bounds,
)
from shared.core.model import TenantPolicy
from shared.shell.cli import build_parser
from shared.store.rows import RowError, parse_tenant_row

T = "8f6a3c1e-2b4d-4e5f-9a0b-1c2d3e4f5a6b"
ADD = ["tenant", "add", "--tenant", T, "--domain", "contoso.onmicrosoft.com"]
# option, its argparse dest, the row's field, the policy attribute, the limit
FIELDS = [
    ("--evidence-days", "evidence_days", "EvidenceDays", "evidence_days", EVIDENCE_DAYS),
    ("--max-changes", "max_changes", "MaxChangesPerRun", "max_changes_per_run", MAX_CHANGES_PER_RUN),
]


def cli_refusal(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*ADD, *args])
    assert exit_.value.code == 2  # bad input, as the design's exit codes say
    return capsys.readouterr().err.strip().splitlines()[-1]


def tenant_row(**fields: object) -> dict[str, object]:
    return {"PartitionKey": T, "RowKey": "tenant", "InitialDomain": "contoso.onmicrosoft.com", **fields}


def row_refusal(field: str, value: object) -> str:
    with pytest.raises(RowError) as err:
        parse_tenant_row(tenant_row(**{field: value}))
    assert err.value.field == field
    return err.value.problem


def test_cli_refuses_evidence_days_31_with_the_limit_the_row_loader_enforces(capsys):
    assert EVIDENCE_DAYS.high == 30  # Entra ID keeps sign-in logs 30 days
    limit = "must be a whole number from 1 to 30 (sign-in logs keep 30 days)"
    assert cli_refusal(capsys, "--evidence-days", "31").endswith(
        f"argument --evidence-days: {limit}, got '31'"
    )
    assert row_refusal("EvidenceDays", 31) == f"{limit}, got 31"


@pytest.mark.parametrize(("option", "dest", "field", "attribute", "bounds"), FIELDS)
def test_both_accept_the_edges_and_refuse_one_past(capsys, option, dest, field, attribute, bounds: Bounds):
    for edge in (bounds.low, bounds.high):
        assert getattr(build_parser().parse_args([*ADD, option, str(edge)]), dest) == edge
        assert getattr(parse_tenant_row(tenant_row(**{field: edge})), attribute) == edge
    limit = f"from {bounds.low} to {bounds.high}"
    for past in (bounds.low - 1, bounds.high + 1):
        assert limit in cli_refusal(capsys, option, str(past))
        assert limit in row_refusal(field, past)


def test_defaults_are_the_same_everywhere():
    args = build_parser().parse_args(ADD)
    row = parse_tenant_row(tenant_row())
    model = TenantPolicy(T, "contoso.onmicrosoft.com")
    for _, dest, _, attribute, bounds in FIELDS:
        assert getattr(args, dest) == getattr(row, attribute) == getattr(model, attribute) == bounds.default
    fix = MAILBOX_FIX[DEFAULT_MAILBOX_FIX]
    assert MAILBOX_FIX[args.mailbox_fix] is row.mailbox_fix_value is model.mailbox_fix_value is fix is True
    assert set(MAILBOX_FIX) == {"disable", "org-default"}  # the words admins type (docs/desired-state.md)


def test_cli_refuses_the_values_a_row_may_not_hold(capsys):
    assert "NAME of an app setting" in cli_refusal(
        capsys, "--teams-webhook-setting", "https://x.example/?sig=1"
    )
    assert "must be a domain like" in cli_refusal(capsys, "--domain", "not a domain")
    long = "x" * (TEXT_MAX + 1)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["exception", "add", "--tenant", T, "--mailbox", "a@contoso.com",
                                   "--approver", "b@contoso.com", "--expires", "2030-01-01", "--reason", long])  # fmt: skip
    assert f"argument --reason: must be at most {TEXT_MAX} characters" in capsys.readouterr().err
    assert row_refusal("InitialDomain", long) == f"must be at most {TEXT_MAX} characters, got {TEXT_MAX + 1}"
