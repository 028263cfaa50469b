"""`make bench` rewrites docs/performance.md but keeps what people wrote below the
marker line (e.g. a hand-written "Cold start: notifications" section)."""

from __future__ import annotations

from bench.report import MARKER, merge

HAND = "\n\n## Cold start: notifications\n\nWritten by hand.\n"


def test_a_new_file_ends_with_the_marker() -> None:
    assert merge("# Performance\n\nnew\n", None) == f"# Performance\n\nnew\n\n{MARKER}\n"


def test_sections_below_the_marker_are_kept_and_the_generated_part_replaced() -> None:
    old = f"# Performance\n\nold figures\n\n{MARKER}{HAND}"
    merged = merge("# Performance\n\nnew figures\n", old)
    assert merged == f"# Performance\n\nnew figures\n\n{MARKER}{HAND}"
    assert merge("# Performance\n\nnewer\n", merged).endswith(f"{MARKER}{HAND}")


def test_a_file_without_the_marker_is_kept_whole_below_it() -> None:
    merged = merge("# Performance\n\nnew\n", "## Cold start: notifications\n\nWritten by hand.")
    assert merged == f"# Performance\n\nnew\n\n{MARKER}{HAND}"


def test_the_request_target_wants_one_request_per_page_and_each_other_read_once() -> None:
    from bench.report import SizeResult, requests_ok

    def run(pages: int, **others: int) -> dict:
        cmdlets = {"Get-CASMailbox": pages, **others}
        return {"requests": sum(cmdlets.values()), "cmdlets": cmdlets}

    reads = {"Get-TransportConfig": 1, "Get-OrganizationConfig": 1}
    good = SizeResult(10_000, True, {"product": [run(10, **reads)], "bare": [{"requests": 10}]})
    ok, text = requests_ok([good])
    assert ok and text == "10,000: 12 = 10 + 2 (Get-OrganizationConfig, Get-TransportConfig)"
    retried = SizeResult(10_000, True, {"product": [run(11, **reads)], "bare": [{"requests": 10}]})
    twice = SizeResult(
        10_000,
        True,
        {"product": [run(10, **{**reads, "Get-TransportConfig": 2})], "bare": [{"requests": 10}]},
    )
    assert not requests_ok([retried])[0] and not requests_ok([twice])[0]
