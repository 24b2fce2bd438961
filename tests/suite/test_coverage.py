"""The coverage table (rolecall/tools/coverage.py): kept current, without holes, and each
row read so that a cell counts only where the row decides its verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from rolecall.cells.matrix import AccessCell, access_cells
from rolecall.model import scenario as scenarios
from rolecall.tools import coverage
from rolecall.tools.coverage_rows import ROWS, Row, exercises

ROOT = Path(__file__).resolve().parents[2]
BY_ID = {row.id: row for row in ROWS}


@pytest.fixture(scope="module")
def measured() -> coverage.Coverage:
    return coverage.measure(ROOT / "scenarios")


def test_docs_coverage_is_current(measured: coverage.Coverage) -> None:
    """docs/coverage.md is what the code generates today (`tox -e coverage-table`)."""
    wanted = coverage.markdown(measured, coverage.reasons())
    assert (ROOT / "docs" / "coverage.md").read_text() == wanted, (
        "docs/coverage.md is stale: run `tox -e coverage-table` (rolecall coverage --write "
        "docs/coverage.md) and commit it")


def test_every_combination_has_a_cell_or_a_reason(measured: coverage.Coverage) -> None:
    assert coverage.holes(measured, coverage.reasons()) == []


def test_no_reason_is_stale(measured: coverage.Coverage) -> None:
    assert coverage.stale(measured, coverage.reasons()) == []


def test_a_shape_without_cells_is_a_hole() -> None:
    """The check can fail: with no cell at all, every combination a shape can carry is one."""
    found = coverage.holes(coverage.Coverage(), [])
    assert ("LeadingKeys", "GetItem") in found and ("scope-down", "guest") in found
    assert ("LeadingKeys", "Scan") not in found  # a Scan names no partition key


def _cell(scenario: str, cell_id: str) -> AccessCell:
    cells = access_cells(scenarios.load_all(ROOT / "scenarios", [scenario]))
    return next(c for c in cells if c.id == cell_id)


@pytest.mark.parametrize(("row", "cell_id", "decides"), [
    # the foreign key is refused through LeadingKeys: without it the batch would pass
    ("LeadingKeys", "shapes-tenant-keys-token-enhanced-ana-BatchGetItem-one-foreign@own", True),
    # DescribeTable names no key: LeadingKeys cannot decide it
    ("LeadingKeys", "shapes-tenant-keys-token-enhanced-ana-DescribeTable@own", False),
    ("FullTableScan", "shapes-tenant-keys-token-enhanced-ana-ExecuteStatement-SELECT-scan@own",
     True),
    ("boundary", "shapes-policy-types-default-role-enhanced-una-PutItem", True),
    ("boundary", "shapes-policy-types-default-role-enhanced-una-GetItem", False),
    ("table-policy", "shapes-policy-types-default-role-classic=TableGranted-una-Query", True),
    ("index-ARN", "shapes-operations-token-enhanced-tom-ExecuteStatement-SELECT@by-customer",
     True),
    ("other-table", "shapes-tables-token-enhanced-olga-BatchGetItem-two-tables", True),
    ("every-check", "shapes-tables-token-enhanced-olga-BatchGetItem-two-tables", True),
    ("scope-down", "shapes-policy-types-default-role-guest-anonymous-GetItem", True),
    ("EnclosingOperation", "shapes-operations-token-enhanced-tia-TransactGetItems", True),
    ("Attributes", "shapes-attributes-token-enhanced-kay-GetItem-projection", True),
])
def test_a_cell_exercises_a_row_only_where_the_row_decides(row: str, cell_id: str,
                                                            decides: bool) -> None:
    assert exercises(BY_ID[row], _cell(cell_id.split("-token-")[0].split("-default-role-")[0],
                                       cell_id)) is decides


def test_a_request_that_cannot_carry_a_key_says_why() -> None:
    leading: Row = BY_ID["LeadingKeys"]
    assert coverage.impossible(leading, "Scan") == (
        "the request names no partition key (no dynamodb:LeadingKeys to confine)")
    assert coverage.impossible(BY_ID["FullTableScan"], "GetItem") == (
        "the request carries no dynamodb:FullTableScan")
    assert coverage.impossible(BY_ID["PrincipalTag"], "classic") == (
        "A2: the classic flow sets no principal tags")
    assert coverage.impossible(leading, "GetItem") is None


def test_a_reason_for_an_unknown_row_names_the_file_field_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "reasons.yaml"
    path.write_text("- {row: LeadingKey, column: GetItem, reason: typo}\n")
    with pytest.raises(scenarios.ScenarioError) as refused:
        coverage.reasons(path)
    assert str(path) in str(refused.value) and "[0].row" in str(refused.value)
    assert "'LeadingKey'" in str(refused.value) and "LeadingKeys" in str(refused.value)
