"""A run's working state: under the evidence folder, owner-only, account masked, removed at the end."""

from __future__ import annotations

import json
import secrets
import stat
import tempfile
from pathlib import Path
from typing import Any

from rolecall.account import clients
from rolecall.account.cleanup import Journal
from rolecall.account.run import Run, RunConfig
from rolecall.reporting import evidence
from rolecall.reporting.completeness import COMPLETE, Completeness
from rolecall.reporting.records import CELL_FIELDS
from tests.suite.test_provision import books


def temp_entries() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("rolecall*")}


def test_state_lives_under_the_bundle_folder_owner_only_and_nothing_in_temp(
        target: clients.Target, tmp_path: Path) -> None:
    before = temp_entries()
    config = RunConfig.create(target, tmp_path / "reports")
    state = Path(config.state_dir)
    assert state == tmp_path / "reports" / config.runid / evidence.STATE_DIR
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert temp_entries() <= before


def test_stack_outputs_do_not_name_the_account_but_read_back_whole(target: clients.Target,
                                                                   tmp_path: Path) -> None:
    run = Run(RunConfig.create(target, tmp_path))
    stack = run.stack(books())
    try:
        written = (run.state_dir / "books.stack.json").read_text()
        assert target.account_id not in written
        assert any(target.account_id in arn for arn in stack.roles.values())
        assert Run(run.config).stack(books()) == stack  # another worker reads the same stack
    finally:
        assert run.teardown_all() == []


def test_state_is_removed_at_the_end_unless_kept(target: clients.Target, tmp_path: Path) -> None:
    run = Run(RunConfig.create(target, tmp_path))
    (run.state_dir / "books.stack.json").write_text("{}")
    assert run.clean_state(keep=True) == run.state_dir
    assert (run.state_dir / "books.stack.json").exists()

    assert run.clean_state() is None
    assert not (tmp_path / run.config.runid).exists(), "an empty run folder goes too"


def test_journals_of_leftovers_are_always_kept(target: clients.Target, tmp_path: Path) -> None:
    run = Run(RunConfig.create(target, tmp_path))
    (run.state_dir / "books.stack.json").write_text("{}")
    journal = Journal(run.state_dir / "books.journal.jsonl")
    journal.path.write_text(json.dumps({"kind": "table", "id": "rc-x-books-books"}) + "\n")

    assert run.clean_state() == run.state_dir
    assert [p.name for p in run.state_dir.iterdir()] == ["books.journal.jsonl"]


def test_a_bundle_with_its_state_kept_still_verifies(tmp_path: Path) -> None:
    runid = secrets.token_hex(4)
    state = tmp_path / runid / evidence.STATE_DIR
    state.mkdir(parents=True)
    (state / "books.journal.jsonl").write_text('{"kind": "table", "id": "rc-x-books-books"}\n')
    cell: dict[str, Any] = dict.fromkeys(CELL_FIELDS)
    cells = [{**cell, "groups": [], "request_ids": [], "kind": "claims", "id": "books-testuser1",
              "scenario": "books", "user": "testuser1", "expected": "R", "observed": "R",
              "passed": True, "test_outcome": "passed"}]
    meta = {"runid": runid, "target": "emulated", "region": "eu-west-1",
            "account": "123456789012", "endpoint_url": None, "started_at": None}
    bundle = evidence.write_bundle(cells, meta, tmp_path, Completeness(COMPLETE, 1, 1))
    assert bundle is not None and (bundle / evidence.STATE_DIR).is_dir()
    manifest = json.loads((bundle / evidence.MANIFEST).read_text())
    assert not any(name.startswith(evidence.STATE_DIR) for name in manifest["files"])
    assert evidence.verify(bundle).problems == []
