"""The OSCAL assessment-results document validates against NIST's schema and says what failed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from rolecall.reporting import oscal
from tests.evidence.test_bundle import cells, write

SCHEMA = Path(__file__).parent / "oscal" / "oscal_assessment-results_schema.json"


def validator() -> jsonschema.Draft7Validator:
    """NIST's schema, with its Unicode classes (\\p{L}, \\p{N}) spelt the way Python's re knows."""
    text = SCHEMA.read_text().replace("\\\\p{L}", "[^\\\\W\\\\d_]").replace("\\\\p{N}", "\\\\d")
    schema = json.loads(text)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def errors(document: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(document)]


def test_a_bundles_assessment_results_validate_against_the_oscal_schema(tmp_path: Path) -> None:
    bundle = write(tmp_path, "run1", cells(flip="books-token-authrole-enhanced-writer-PutItem"))
    document = json.loads((bundle / oscal.ASSESSMENT_RESULTS).read_text())
    assert errors(document) == []
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert oscal.ASSESSMENT_RESULTS in manifest["files"]  # hashed like the rest
    (result,) = document["assessment-results"]["results"]
    assert len(result["observations"]) == len(cells())
    assert {f["target"]["target-id"] for f in result["findings"]} == {"ac-3_obj", "ac-6_obj"}
    assert all(f["title"] == "books-token-authrole-enhanced-writer-PutItem failed"
               for f in result["findings"])
    assert "123456789012" not in json.dumps(document)


def test_the_schema_check_can_fail() -> None:
    document = oscal.assessment_results(cells(), {"runid": "r", "started_at": "2026-11-01T10:00:00Z",
                                                  "ended_at": "2026-11-01T10:01:00Z"})
    del document["assessment-results"]["results"][0]["reviewed-controls"]
    assert any("reviewed-controls" in e for e in errors(document))


def test_escalation_paths_are_findings_and_controls_come_from_the_teams_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    controls = tmp_path / "controls.yaml"
    controls.write_text("default: [AC-3]\nescalation: [AC-6, AC-6.10]\n")
    monkeypatch.setenv("ROLECALL_OSCAL_CONTROLS", str(controls))
    escalation = {"kind": "escalation", "id": "open-escalation-reader", "passed": True,
                  "details": {"findings": ["classic flow: reader assumes Admin"]},
                  "recorded_at": "2026-11-01T10:00:01Z"}
    document = oscal.assessment_results([escalation], {"runid": "r",
                                                       "started_at": "2026-11-01T10:00:00Z"})
    assert errors(document) == []
    findings = document["assessment-results"]["results"][0]["findings"]
    assert [f["target"]["target-id"] for f in findings] == ["ac-6_obj", "ac-6.10_obj"]
    assert all(re.search("reader assumes Admin", f["description"]) for f in findings)


def test_uuids_survive_the_account_masking_of_the_bundle_writer() -> None:
    from rolecall.reporting.redact import redact_text

    made = [oscal.uuid_of("run", "observation", f"cell-{n}") for n in range(3000)]
    assert len(set(made)) == len(made)
    assert all(redact_text(u) == u for u in made)  # ~10 of these would end in 12 digits


def test_an_incomplete_run_says_so_and_its_not_run_cells_are_no_observations(
        tmp_path: Path) -> None:
    from rolecall.reporting import completeness, evidence
    from tests.evidence.test_bundle import RUN
    from tests.evidence.test_completeness import _plan, _records

    rows = cells()
    verdict, all_cells = completeness.assess(_plan(rows), _records(rows[:3]),
                                             "interrupted by SIGINT", [])
    bundle = evidence.write_bundle(all_cells, RUN, tmp_path / "reports", verdict)
    assert bundle is not None
    document = json.loads((bundle / oscal.ASSESSMENT_RESULTS).read_text())
    assert errors(document) == []
    (result,) = document["assessment-results"]["results"]
    assert result["remarks"].startswith(f"INCOMPLETE: 3 of {len(rows)} cells; interrupted by SIGINT")
    assert f"{len(rows) - 3} planned cell(s) did NOT RUN" in result["remarks"]
    assert {"name": "run-status", "value": "incomplete"} in result["props"]
    assert sorted(o["title"] for o in result["observations"]) == sorted(r["id"] for r in rows[:3])
    assert "findings" not in result  # a cell that never ran is not a failure either
    # Nothing ran at all: still a valid document, with no observation.
    verdict, all_cells = completeness.assess(_plan(rows), [], "interrupted by SIGTERM", [])
    nothing = oscal.assessment_results(all_cells, {**RUN, "ended_at": RUN["started_at"]},
                                       completeness=verdict)
    assert errors(nothing) == [] and "observations" not in nothing["assessment-results"]["results"][0]
