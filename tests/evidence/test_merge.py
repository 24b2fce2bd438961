"""`rolecall merge`: many jobs' bundles become one verified bundle, cells keyed by account and stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rolecall.reporting import evidence
from rolecall.reporting.completeness import INCOMPLETE, Completeness
from rolecall.reporting.merge import merge
from rolecall.tools import evidence_cli
from tests.evidence.test_bundle import CELL_FIELDS, RUN, cells, write


def job(tmp_path: Path, stack: str) -> Path:
    """One CI job's bundle, as <job>/reports/<runid>."""
    folder = tmp_path / stack
    folder.mkdir()
    bundle = write(folder, f"run-{stack}", cells())
    assert json.loads((bundle / evidence.EVIDENCE).read_text())["run"]["account"] != RUN["account"]
    return bundle


def test_merged_bundle_is_intact_and_keys_cells_by_account_and_stack(tmp_path: Path) -> None:
    first, second = job(tmp_path, "staging-books"), job(tmp_path, "prod-books")
    merged = merge([first, second], tmp_path / "out")
    assert evidence.verify(merged).intact
    ids = set(evidence.load_cells(merged))
    assert len(ids) == 2 * len(cells())
    assert any(i.endswith("/staging-books/books-testuser1") for i in ids)
    assert any(i.endswith("/prod-books/books-testuser1") for i in ids)
    assert all(i.startswith("********") for i in ids)  # the account is masked


def test_a_tampered_bundle_is_refused_naming_the_file(tmp_path: Path) -> None:
    first, second = job(tmp_path, "a"), job(tmp_path, "b")
    (second / evidence.SUMMARY).write_text("edited")
    with pytest.raises(evidence.BundleError, match=r"summary\.md"):
        merge([first, second], tmp_path / "out")
    assert evidence_cli_exit(["merge", "--out", str(tmp_path / "o2"), str(first), str(second)]) == 2


def evidence_cli_exit(argv: list[str]) -> int:
    from rolecall.tools.cli import main
    return main(argv)


def test_cli_merges(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = job(tmp_path, "a"), job(tmp_path, "b")
    assert evidence_cli_exit(["merge", "--out", str(tmp_path / "o"), str(first), str(second)]) == 0
    assert "merged 2 bundle(s)" in capsys.readouterr().out
    assert evidence_cli is not None


def test_a_merge_is_no_more_complete_than_its_worst_job(tmp_path: Path) -> None:
    staging, prod = job(tmp_path, "staging-books"), job(tmp_path, "prod-books")
    assert _extent(merge([staging, prod], tmp_path / "whole"))["status"] == "complete"
    cut = tmp_path / "cut-books"  # a third job, cancelled after two cells
    rows = [{**dict.fromkeys(CELL_FIELDS), "groups": [], "request_ids": [],
             "recorded_at": "2026-11-01T10:00:01.000Z", "test_outcome": "passed", **row}
            for row in cells()[:2]]
    short = evidence.write_bundle(rows, {**RUN, "runid": "run-cut"}, cut / "reports",
                                  Completeness(INCOMPLETE, 9, 2, ["books-x"],
                                               reason="interrupted by SIGTERM"))
    assert short is not None
    extent = _extent(merge([staging, prod, short], tmp_path / "partial"))
    assert extent["status"] == "incomplete" and "cut-books" in extent["reason"]
    assert "interrupted by SIGTERM" in extent["reason"] and extent["observed"] < extent["planned"]


def _extent(bundle: Path) -> dict[str, Any]:
    return dict(json.loads((bundle / evidence.EVIDENCE).read_text())["completeness"])


def test_a_cell_not_probed_in_a_job_stays_not_probed_in_the_merge(tmp_path: Path) -> None:
    """A job's NOT PROBED cell keeps its reason and is never counted as observed."""
    from tests.evidence.test_completeness import _not_probed_bundle

    staging = job(tmp_path, "staging-books")
    team = tmp_path / "team-stack"
    team.mkdir()
    skipped_bundle, _, skipped, reason = _not_probed_bundle(team)
    merged = merge([staging, skipped_bundle], tmp_path / "out")
    extent = _extent(merged)
    [(cell, why)] = extent["not_probed"].items()
    assert cell.endswith(f"/{skipped}") and why == reason
    assert extent["observed"] == extent["planned"] - 1
    assert "1 not probed" in extent["headline"]
    assert "## Not probed (1)" in (merged / evidence.SUMMARY).read_text()
