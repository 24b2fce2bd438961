"""The evidence bundle: written, verified, tampered with, compared, and read without a network."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from rolecall.reporting import evidence, oscal
from rolecall.reporting.completeness import COMPLETE, Completeness
from rolecall.reporting.records import CELL_FIELDS
from rolecall.tools import evidence_cli

ACCOUNT = "123456789012"


def _access(user: str, role: str, action: str, expected: str, observed: str) -> dict[str, Any]:
    cell = f"books-token-authrole-enhanced-{user}-{action}"
    return {"kind": "access", "id": cell, "scenario": "books", "variant": "token-authrole",
            "flow": "enhanced", "user": user, "groups": ["BooksRead"], "expected_role": role,
            "observed_role": role, "action": action, "expected": expected, "observed": observed,
            "code": "AccessDeniedException" if observed == "DENIED" else None,
            "request_ids": [f"REQ{len(cell)}"], "rule": "D1", "source": "seed 002",
            "passed": expected == observed, "test": f"suites/test_access.py::test_access[{cell}]"}


def cells(flip: str | None = None) -> list[dict[str, Any]]:
    """A small run: claims, credentials and a users x actions grid; `flip` one expectation."""
    rows = [
        {"kind": "claims", "id": "books-testuser1", "scenario": "books", "user": "testuser1",
         "groups": ["BooksRead"], "expected": "BooksReadAccess", "observed": "BooksReadAccess",
         "rule": "G6", "passed": True, "test": "suites/test_claims.py::t[books-testuser1]"},
        {"kind": "credential", "id": "books-token-authrole-enhanced-testuser1", "scenario": "books",
         "variant": "token-authrole", "flow": "enhanced", "user": "testuser1",
         "groups": ["BooksRead"], "expected": "ISSUED(BooksReadAccess)",
         "observed": "ISSUED(BooksReadAccess)", "expected_role": "BooksReadAccess",
         "observed_role": "BooksReadAccess", "rule": "E3", "source": "seed 002",
         "request_ids": ["r1", "r2"], "passed": True,
         "test": "suites/test_credentials.py::t[books-token-authrole-enhanced-testuser1]"},
    ]
    for action, verdict in [("GetItem", "ALLOWED"), ("Query", "ALLOWED"), ("PutItem", "DENIED")]:
        rows.append(_access("testuser1", "BooksReadAccess", action, verdict, verdict))
        rows.append(_access("writer", "BooksWriteAccess", action, "ALLOWED", "ALLOWED"))
    for row in rows:
        if row["id"] == flip:
            row["expected"] = "DENIED" if row["expected"] == "ALLOWED" else "ALLOWED"
            row["passed"] = row["expected"] == row["observed"]
    return rows


RUN = {"runid": "run1", "target": "emulated", "region": "eu-west-1", "account": ACCOUNT,
       "endpoint_url": None, "started_at": "2026-11-01T10:00:00.000Z"}


def write(tmp_path: Path, runid: str, rows: list[dict[str, Any]]) -> Path:
    """A bundle of these records, as the plugin writes them (every field present), of a
    run whose plan they all cover."""
    complete = [{**dict.fromkeys(CELL_FIELDS), "groups": [], "request_ids": [],
                 "recorded_at": "2026-11-01T10:00:01.000Z", "test_outcome": "passed", **row}
                for row in rows]
    verdict = Completeness(COMPLETE, len(rows), len(rows))
    bundle = evidence.write_bundle(sorted(complete, key=lambda c: c["id"]), {**RUN, "runid": runid},
                                   tmp_path / "reports", verdict,
                                   action_order=["GetItem", "Query", "PutItem"])
    assert bundle is not None
    return bundle


def test_a_written_bundle_is_complete_and_verifies(tmp_path: Path) -> None:
    bundle = write(tmp_path, "run1", cells())
    assert sorted(p.name for p in bundle.iterdir()) == [oscal.ASSESSMENT_RESULTS, "evidence.json",
                                                        "manifest.json", "matrix.html",
                                                        "rules.html", "summary.md"]
    assert "rules.html" in json.loads((bundle / "manifest.json").read_text())["files"]
    data = json.loads((bundle / "evidence.json").read_text())
    assert [c["id"] for c in data["cells"]] == sorted(c["id"] for c in cells())
    credential = next(c for c in data["cells"] if c["kind"] == "credential")
    assert (credential["expected_role"], credential["observed_role"]) == ("BooksReadAccess",) * 2
    assert credential["recorded_at"] and credential["request_ids"] == ["r1", "r2"]
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["account"] == "********9012" and ACCOUNT not in json.dumps(manifest)
    assert set(manifest["tools"]) >= {"python", "boto3", "moto", "pytest"}
    assert manifest["rolecall"]["version"] and manifest["rolecall"]["git_sha"]
    assert set(manifest["files"]) == {"evidence.json", "matrix.html", "rules.html", "summary.md",
                                      oscal.ASSESSMENT_RESULTS}
    assert evidence.verify(bundle).intact
    assert evidence_cli_main(["verify", str(bundle)]) == 0


def evidence_cli_main(argv: list[str]) -> int:
    from rolecall.tools.cli import main

    return main(argv)


def test_one_changed_byte_of_evidence_json_fails_verify(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    bundle = write(tmp_path, "run1", cells())
    data = bytearray((bundle / "evidence.json").read_bytes())
    at = data.index(b"DENIED")
    data[at] = ord("d")  # one byte: DENIED -> dENIED
    (bundle / "evidence.json").write_bytes(bytes(data))
    checked = evidence.verify(bundle)
    assert not checked.intact
    assert checked.problems == [f"{bundle / 'evidence.json'}: modified since the run (SHA-256 "
                                "differs from manifest.json)"]
    assert evidence_cli_main(["verify", str(bundle)]) == 1
    assert "evidence.json: modified" in capsys.readouterr().out


def test_removed_and_added_files_are_named(tmp_path: Path) -> None:
    bundle = write(tmp_path, "run1", cells())
    (bundle / "summary.md").unlink()
    (bundle / "extra.txt").write_text("added later")
    problems = evidence.verify(bundle).problems
    assert any("summary.md: missing" in p for p in problems)
    assert any("extra.txt: added after the run" in p for p in problems)


@pytest.mark.parametrize(("setup", "message"), [
    (lambda d: None, "no such bundle folder"),
    (lambda d: d.mkdir(), "manifest.json: missing, so"),
    (lambda d: (d.mkdir(), (d / "manifest.json").write_text("{not json")), "not valid JSON"),
    (lambda d: (d.mkdir(), (d / "manifest.json").write_text("{}")), "not a rolecall evidence"),
])
def test_not_a_bundle_is_a_clear_error(tmp_path: Path, setup: Any, message: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "reports" / "nope"
    folder.parent.mkdir()
    setup(folder)
    with pytest.raises(evidence.BundleError, match=re.escape(message)):
        evidence.verify(folder)
    assert evidence_cli_main(["verify", str(folder)]) == 2
    assert str(folder) in capsys.readouterr().err


def test_diff_lists_exactly_the_flipped_cell(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    flipped = "books-token-authrole-enhanced-testuser1-Query"
    old, new = write(tmp_path, "old", cells()), write(tmp_path, "new", cells(flip=flipped))
    changes = evidence.diff(old, new)
    assert [c.id for c in changes] == [flipped]
    assert changes[0].fields == {"expected": ("ALLOWED", "DENIED"), "passed": (True, False)}
    assert evidence.diff(old, old) == []
    assert evidence_cli_main(["diff", str(old), str(new)]) == 1
    assert capsys.readouterr().out.strip() == (f"{flipped}: expected ALLOWED -> DENIED; "
                                               "passed True -> False")


def test_diff_sees_observed_drift_and_added_cells(tmp_path: Path) -> None:
    rows = cells()
    rows[1] = {**rows[1], "observed": "ISSUED(BooksWriteAccess)",
               "observed_role": "BooksWriteAccess", "passed": False}
    rows.append(_access("editor", "BooksWriteAccess", "Scan", "ALLOWED", "ALLOWED"))
    changes = {c.id: c for c in evidence.diff(write(tmp_path, "a", cells()),
                                              write(tmp_path, "b", rows))}
    assert set(changes) == {"books-token-authrole-enhanced-testuser1",
                            "books-token-authrole-enhanced-editor-Scan"}
    drift = changes["books-token-authrole-enhanced-testuser1"].fields
    assert drift["observed"] == ("ISSUED(BooksReadAccess)", "ISSUED(BooksWriteAccess)")
    assert drift["observed_role"] == ("BooksReadAccess", "BooksWriteAccess")
    assert changes["books-token-authrole-enhanced-editor-Scan"].only == "new"


def test_diff_refuses_a_tampered_bundle_and_names_the_file(tmp_path: Path) -> None:
    old, new = write(tmp_path, "old", cells()), write(tmp_path, "new", cells())
    (new / "matrix.html").write_text("<html></html>")
    with pytest.raises(evidence.BundleError, match=r"matrix\.html: modified"):
        evidence.diff(old, new)


def test_matrix_html_is_self_contained_and_shows_the_grid(tmp_path: Path) -> None:
    bundle = write(tmp_path, "run1", cells(flip="books-token-authrole-enhanced-writer-PutItem"))
    page = (bundle / "matrix.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert not re.search(r"<(script|link|img|iframe|object)\b|@import|url\(", page, re.I)
    grid = page[page.index('<table class="grid">'):]
    head = [re.sub(r"<(?!wbr)[^>]+>", " ", h).replace("<wbr>", "").split() for h in
            re.findall(r"<th[^>]*>(.*?)</th>", grid[:grid.index("</thead>")])]
    assert [h[0] for h in head[-3:]] == ["GetItem", "Query", "PutItem"]  # probe order
    assert head[:2] == [["user", "flow,", "groups"], ["credential", "(role)"]]
    rows = re.findall(r'<tr><th class="who">(\w+)<', grid[grid.index("<tbody>"):])
    assert rows == ["testuser1", "writer"]
    # Coloured by verdict, never by observation: the failed cell observed ALLOWED and is red.
    assert grid.count('class="v pass"') == 6 and grid.count('class="v fail"') == 1
    failed = re.search(r'<td class="v fail"[^>]*>([^<]+)<span class="exp">([^<]+)</span>', grid)
    assert failed and failed.groups() == ("ALLOWED", "expected DENIED")
    text = grid.replace("<wbr>", "")
    assert "ISSUED(BooksReadAccess)" in text  # the role testuser1's credential cell got ...
    assert 'role BooksWriteAccess</span>' in text  # ... and the writer's, who has none here
    assert ".grid .who{position:sticky;left:0" in page and 'class="scroll"' in page
    assert '<a href="#scenario-books">books</a>' in page  # the table of contents
    assert '<a href="#variant-books-token-authrole">token-authrole</a>' in page
    assert '<details class="scenario" id="scenario-books" open>' in page  # it failed: open


def test_every_link_in_a_bundle_stays_inside_it(tmp_path: Path) -> None:
    bundle = write(tmp_path, "run1", cells())
    for page in ("matrix.html", "rules.html"):
        for href in re.findall(r'href="([^"]+)"', (bundle / page).read_text()):
            target, _, anchor = href.partition("#")
            document = (bundle / target) if target else bundle / page
            assert document.is_file(), f"{page} links {href}, which is not in the bundle"
            if anchor:
                assert f'id="{anchor}"' in document.read_text(), f"{page}: {href} has no target"


def test_a_failed_cell_is_failed_in_the_summary(tmp_path: Path) -> None:
    rows = cells()
    rows[2] = {**rows[2], "passed": False, "test_outcome": "failed"}
    bundle = write(tmp_path, "run1", rows)
    summary = (bundle / "summary.md").read_text()
    assert "## Failures (1)" in summary and rows[2]["id"] in summary


def test_no_record_no_bundle(tmp_path: Path) -> None:
    assert evidence.write_bundle([], RUN, tmp_path / "reports",
                                 Completeness(COMPLETE, 0, 0)) is None


def test_the_cli_knows_the_evidence_commands() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    evidence_cli.add_parsers(parser.add_subparsers())
    args = parser.parse_args(["report"])
    assert (args.results, args.out) == (Path("reports/allure-results"),
                                        Path("reports/allure-report"))


def test_allure_gets_environment_categories_and_the_ci_executor(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from rolecall.reporting import allure_run

    for name in ("GITLAB_CI", "JENKINS_URL", "BUILD_URL", "CI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/rolecall")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    allure_run.write(tmp_path, RUN, ["books"], "abc123")
    env = (tmp_path / "environment.properties").read_text()
    assert "target=emulated" in env and "account=********9012" in env and ACCOUNT not in env
    assert "commit=abc123" in env and "scenarios=books" in env and "run.id=run1" in env
    job = json.loads((tmp_path / "executor.json").read_text())
    assert job["buildUrl"] == "https://github.com/org/rolecall/actions/runs/42"
    names = [c["name"] for c in json.loads((tmp_path / "categories.json").read_text())]
    assert names == ["Escalation finding", "Spec violation", "Target error", "Infrastructure"]


def test_the_report_keeps_its_history_in_its_own_folder(tmp_path: Path) -> None:
    """The next report into the same folder extends the Trend (tests/evidence/test_full_run.py
    generates twice and counts the points)."""
    from rolecall.tools import nodetools

    config = nodetools.report_config(tmp_path / "fresh", tmp_path / "report" / "history.jsonl")
    assert config["historyPath"] == str(tmp_path / "report" / "history.jsonl")
    assert config["output"] == str(tmp_path / "fresh")
    options = config["plugins"]["awesome"]["options"]  # type: ignore[index]
    assert options["singleFile"] is True and options["groupBy"] == ["epic", "feature", "story"]


def _classic_refused(user: str, role: str) -> dict[str, Any]:
    cell = f"books-token-authrole-classic={role}-{user}"
    return {"kind": "credential", "id": cell, "scenario": "books", "variant": "token-authrole",
            "flow": f"classic={role}", "user": user, "groups": [], "expected": "REFUSED(X)",
            "observed": "REFUSED(InvalidParameterException)", "rule": "C1", "source": "spec",
            "expected_role": None, "observed_role": None, "passed": True,
            "test": f"suites/test_credentials.py::t[{cell}]"}


def test_matrix_html_answers_an_auditors_questions(tmp_path: Path) -> None:
    rows = cells() + [_classic_refused(u, r) for u in ("testuser1", "writer")
                      for r in ("BooksReadAccess", "BooksWriteAccess")]
    rows.append({"kind": "audit", "id": "books-audit-trust-without-aud", "scenario": "books",
                 "details": {"check": "trust-without-aud", "title": "trust policy without aud",
                             "findings": [], "stale": []}, "rule": "T3", "passed": True,
                 "test": "suites/test_audit.py::t[books-audit-trust-without-aud]"})
    complete = [{**dict.fromkeys(CELL_FIELDS), "groups": [], "request_ids": [],
                 "test_outcome": "passed", **row} for row in rows]
    roles = {"books": {"BooksReadAccess": {"allowed": ["GetItem", "Query"], "groups": ["BooksRead"],
                                           "source": "seed 002", "policy": {"Statement": []}}}}
    bundle = evidence.write_bundle(sorted(complete, key=lambda c: c["id"]), RUN,
                                   tmp_path / "reports", Completeness(COMPLETE, len(rows), len(rows)),
                                   action_order=["GetItem", "Query", "PutItem"], roles=roles)
    assert bundle is not None
    page = (bundle / "matrix.html").read_text()
    assert "declared profile and policy" in page and "<pre>" in page and "seed 002" in page
    assert "who can do what" in page and "GetItem, Query" in page  # testuser1's persona
    assert page.count('<tr class="collapsed">') == 1 and "All 4 classic cells" in page  # one row
    assert "classic flow: AllowClassicFlow false: disabled (C1)" in page  # why, from the rule
    assert "(off)" not in page
    assert "checked: trust policy without aud; nothing found" in page
    assert '<a href="rules.html#t3">T3</a>' in page
    data = json.loads((bundle / "evidence.json").read_text())
    assert data["roles"]["books"]["BooksReadAccess"]["allowed"] == ["GetItem", "Query"]


def test_summary_lists_each_pinned_assumption_with_the_observed_answer(tmp_path: Path) -> None:
    rows = cells()
    rows[1]["details"] = {"pin": "G7"}
    summary = (write(tmp_path, "run1", rows) / evidence.SUMMARY).read_text()
    assert "## Pinned assumptions (1)" in summary
    assert ("| G7 | books-token-authrole-enhanced-testuser1 | ISSUED(BooksReadAccess) | "
            "ISSUED(BooksReadAccess) |") in summary


def test_summary_lists_each_escalation_path_with_its_rule_and_what_it_changes(
        tmp_path: Path) -> None:
    change = ("cognito-identity:SetIdentityPoolRoles (changes which role every user of the "
              "pool gets)")
    paths = [{"subject": "token/editor", "path": "enhanced", "rule": "E7b", "grants": [change]},
             {"subject": "token/editor", "path": "custom=Admin", "rule": "E7a",
              "grants": ["PutItem", "DeleteItem"]}]
    rows = [*cells(), {"kind": "escalation", "id": "grant-editor-escalation", "scenario": "grant",
                       "user": "editor", "expected": ["token/editor"], "observed": ["token/editor"],
                       "rule": "E7b/E7a", "passed": True,
                       "details": {"findings": ["token/editor: ..."], "paths": paths},
                       "test": "suites/test_escalation.py::t[grant-editor-escalation]"}]
    summary = (write(tmp_path, "run1", rows) / evidence.SUMMARY).read_text()
    assert "## Escalation paths (2)" in summary
    assert f"| grant-editor-escalation | yes | token/editor | enhanced | E7b | {change} |" in summary
    assert ("| grant-editor-escalation | yes | token/editor | custom=Admin | E7a | PutItem, "
            "DeleteItem |") in summary  # a CustomRoleArn request cites E7a, not C5/E10/E5
