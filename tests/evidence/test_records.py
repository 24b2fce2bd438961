"""A cell's records: its description, what its test observed, and how the test ended."""

from __future__ import annotations

from rolecall.reporting.records import (
    NOT_OBSERVED,
    NOT_PROBED,
    Description,
    Observation,
    records_of,
)

ACCESS = Description("books-v-enhanced-u-PutItem", "access", "books", "v", "enhanced", "u",
                     ("Readers",), "ReadRole", "PutItem", "DENIED", "D1", "seed 002")
NEGATIVE = Description("tokens-signed-out", "negative", "tokens", user="u")


def test_a_cell_that_failed_before_observing_is_in_the_evidence_as_not_observed() -> None:
    [row] = records_of(ACCESS, [], "failed", "suites/t.py::t[x]", "2026-01-01T00:00:00.000Z")
    assert (row["observed"], row["passed"], row["test_outcome"]) == (NOT_OBSERVED, False, "failed")
    assert (row["id"], row["expected"], row["rule"]) == (ACCESS.id, "DENIED", "D1")


def test_passed_is_the_test_outcome_not_the_body() -> None:
    seen = [Observation("DENIED", "ReadRole", "AccessDeniedException", ["r1"])]
    [failed] = records_of(ACCESS, seen, "failed", "t", "s")  # a later assertion failed
    [passed] = records_of(ACCESS, seen, "passed", "t", "s")
    assert (failed["passed"], passed["passed"]) == (False, True)
    assert passed["code"] == "AccessDeniedException" and passed["request_ids"] == ["r1"]


def test_each_part_of_a_cell_is_a_record_that_fails_alone() -> None:
    parts = [Observation("ISSUED(Auth)", part="check-off", expected="ISSUED(Auth)", rule="E3"),
             Observation("ISSUED(Auth)", part="check-on", expected="REFUSED(NotAuthorized)",
                         rule="E3")]
    rows = {r["id"]: r for r in records_of(NEGATIVE, parts, "failed", "t", "s")}
    assert rows["tokens-signed-out[check-off]"]["passed"]
    assert not rows["tokens-signed-out[check-on]"]["passed"]
    assert rows["tokens-signed-out[check-on]"]["variant"] == "check-on"


def test_parts_that_all_matched_in_a_failed_test_are_failed() -> None:
    parts = [Observation("A", part="x", expected="A"), Observation("B", part="y", expected="B")]
    assert not any(r["passed"] for r in records_of(NEGATIVE, parts, "failed", "t", "s"))


def test_secrets_in_an_observation_are_redacted() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl"
    [row] = records_of(ACCESS, [Observation("DENIED", code=token)], "passed", "t", "s")
    assert token not in str(row)


REVOKED = Description("tokens-signed-out", "negative", "tokens", user="u",
                      parts=("check-off", "check-on"))


def test_a_cell_of_several_parts_records_every_part_it_planned() -> None:
    """A test that stopped at its first part leaves the second NOT OBSERVED, not absent:
    the run's cells are the plan's cells, one count everywhere (issue 24, item 7)."""
    first = [Observation("ISSUED(Auth)", part="check-off", expected="REFUSED(X)", rule="E3")]
    rows = {r["id"]: r for r in records_of(REVOKED, first, "failed", "t", "s")}
    assert sorted(rows) == ["tokens-signed-out[check-off]", "tokens-signed-out[check-on]"]
    second = rows["tokens-signed-out[check-on]"]
    assert (second["observed"], second["passed"], second["variant"]) == (
        NOT_OBSERVED, False, "check-on")
    none = records_of(REVOKED, [], "failed", "t", "s")
    assert [r["id"] for r in none] == sorted(rows) and not any(r["passed"] for r in none)


def test_a_skipped_cell_is_not_probed_with_its_reason_never_observed() -> None:
    [row] = records_of(ACCESS, [], "skipped", "t", "s", reason="no safe way to ask")
    assert (row["observed"], row["passed"], row["code"]) == (NOT_PROBED, False,
                                                             "no safe way to ask")
