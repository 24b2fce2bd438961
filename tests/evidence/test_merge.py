"""`rolecall merge`: many jobs' bundles become one verified bundle, cells keyed by account and stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rolecall.reporting import evidence
from rolecall.reporting.merge import merge
from rolecall.tools import evidence_cli
from tests.evidence.test_bundle import RUN, cells, write


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
