"""The mutation tool's score net of classified survivors (issue 23, item 5).

Small synthetic reports and classification files, scored through the tool's own
command line (`--score`), and the kept data file, docs and README held in step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rolecall.model.errors import ScenarioError
from rolecall.tools import mutation_classes, mutation_doc, mutation_tool
from rolecall.tools.mutation_report import Scorecard, write_reports
from rolecall.tools.mutation_score import Mutant, Run, combined, read_run

SHA_A, SHA_B, OTHER = "a" * 64, "b" * 64, "c" * 64


def mutant(module: str, occurrence: int, outcome: str, line: int | None = None) -> dict[str, Any]:
    return {"module": module, "line": line or 10 + occurrence, "operator": "core/X",
            "occurrence": occurrence, "function": "f", "outcome": outcome}


def write_report(path: Path, mutants: list[dict[str, Any]], not_sampled: dict[str, int],
                 hashes: dict[str, str] | None = None) -> Path:
    """A report as the tool writes it (kept samples list only the judged mutants)."""
    per_module: dict[str, dict[str, int]] = {}
    for entry in mutants:
        counts = per_module.setdefault(entry["module"], {})
        counts[entry["outcome"]] = counts.get(entry["outcome"], 0) + 1
    for module, n in not_sampled.items():
        per_module.setdefault(module, {})["not-sampled"] = n
    path.write_text(json.dumps({"scenarios": ["s"], "seconds": 60, "mutants": mutants,
                                "per_module": per_module, "interrupted": False,
                                "module_sha256": hashes or {"a.py": SHA_A, "b.py": SHA_B}}))
    return path


def write_classes(path: Path, entries: list[tuple[str, str, int, int, str]]) -> Path:
    """(module, sha256, occurrence, line, class) per classified survivor."""
    versions: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for module, sha, occurrence, line, klass in entries:
        versions.setdefault((module, sha), []).append(
            {"operator": "core/X", "occurrence": occurrence, "line": line, "function": "f",
             "mutant": "what it changes", "class": klass, "reason": "why"})
    path.write_text(yaml.safe_dump({"modules": [
        {"module": module, "sha256": sha, "survivors": survivors}
        for (module, sha), survivors in versions.items()]}, sort_keys=False))
    return path


# a.py: 30 mutants, 2 sampled, both killed; b.py: 10 mutants, 4 sampled: 2 killed, 2 survived
SAMPLE = ([mutant("a.py", 0, "killed"), mutant("a.py", 1, "killed"),
           mutant("b.py", 0, "killed"), mutant("b.py", 1, "killed"),
           mutant("b.py", 2, "survived"), mutant("b.py", 3, "survived")],
          {"a.py": 28, "b.py": 6})


def score(tmp_path: Path, capsys: pytest.CaptureFixture[str], reports: list[Path],
          classes: Path) -> tuple[str, dict[str, Any]]:
    argv = [arg for report in reports for arg in ("--score", str(report))]
    code = mutation_tool.main([*argv, "--classes", str(classes),
                               "--report-dir", str(tmp_path / "out")])
    assert code == 0
    written = json.loads((tmp_path / "out" / "mutation-score.json").read_text())
    return capsys.readouterr().out, written


def test_net_score_takes_equivalents_out_of_the_judged_and_the_module_weight(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = write_report(tmp_path / "r.json", *SAMPLE)
    classes = write_classes(tmp_path / "c.yaml", [("b.py", SHA_B, 2, 12, "equivalent"),
                                                  ("b.py", SHA_B, 3, 13, "killed-by-cell")])
    out, written = score(tmp_path, capsys, [report], classes)
    # raw: 4 of 6; stratified: a 30/40 at 100%, b 10/40 at 50%
    assert written["score"] == pytest.approx(4 / 6)
    assert written["sample_estimate"]["score"] == pytest.approx(0.75 + 0.25 * 0.5)
    # net: b's equivalent survivor leaves its judged (3 left, 2 killed) and a quarter of its
    # weight (10 -> 7.5): 30/37.5 at 100% + 7.5/37.5 at 2/3
    net = written["net"]
    assert net["score"] == pytest.approx(4 / 5)
    assert net["sample_estimate"]["score"] == pytest.approx(0.8 + 0.2 * 2 / 3)
    spread = 0.2 ** 2 * (2 / 3) * (1 / 3) / 2 * (7.5 - 3) / (7.5 - 1)  # a.py: no spread at 100%
    assert net["sample_estimate"]["standard_error"] == pytest.approx(spread ** 0.5)
    assert net["per_module"]["b.py"] == {"killed": 2, "judged": 3}
    assert net["survivors"]["classified"] == {"equivalent": 1, "killed-by-cell": 1,
                                              "out-of-scope": 0, "accepted": 0}
    assert "raw score 66.7% (killed / judged); net of equivalents 80.0%" in out
    assert "estimate over the modules 87.5% +/- " in out and "net of equivalents 93.3% +/- 5.5%" in out
    assert "classified 2 (equivalent 1, killed-by-cell 1, out-of-scope 0, accepted 0), " \
           "unclassified 0, stale 0" in out
    md = (tmp_path / "out" / "mutation-score.md").read_text()
    assert "net of equivalents 93.3% +/- 5.5%" in md and "| b.py:12 | f |" in md


def test_a_whole_run_is_exact_and_unclassified_survivors_stay_survivors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = write_report(tmp_path / "r.json", SAMPLE[0], {})
    classes = write_classes(tmp_path / "c.yaml", [("b.py", SHA_B, 2, 12, "equivalent")])
    out, written = score(tmp_path, capsys, [report], classes)
    assert written["sample_estimate"] is None and written["net"]["sample_estimate"] is None
    assert written["net"]["score"] == pytest.approx(4 / 5)  # b.py #3 is not classified
    assert "a whole run" in out and "estimate over" not in out
    assert "unclassified 1, stale 0" in out and "unclassified: b.py:13 f core/X #3" in out


def test_a_classification_of_another_module_source_is_stale_not_applied(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = write_report(tmp_path / "r.json", *SAMPLE)
    classes = write_classes(tmp_path / "c.yaml", [("b.py", OTHER, 2, 12, "equivalent")])
    out, written = score(tmp_path, capsys, [report], classes)
    assert written["net"]["score"] == written["score"] == pytest.approx(4 / 6)
    assert written["net"]["sample_estimate"] == written["sample_estimate"]
    assert [m["occurrence"] for m in written["net"]["survivors"]["stale"]] == [2]
    assert written["net"]["survivors"]["stale"][0]["classified_on"] == [OTHER]
    assert "classified 0 (" in out and "unclassified 1, stale 1" in out
    assert f"stale: b.py:12 f core/X #2 (classified on {OTHER[:12]}, not applied" in out
    assert "| b.py:12 | f |  | X #2 | stale |" in (tmp_path / "out" / "mutation-score.md").read_text()


def test_a_classification_naming_another_mutant_of_the_same_source_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = write_report(tmp_path / "r.json", *SAMPLE)
    # b.py core/X #2 is at line 12 in the report; the entry says line 40
    classes = write_classes(tmp_path / "c.yaml", [("b.py", SHA_B, 2, 40, "equivalent")])
    with pytest.raises(SystemExit) as stopped:
        mutation_tool.main(["--score", str(report), "--classes", str(classes),
                            "--report-dir", str(tmp_path / "out")])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert str(classes) in error and "b.py core/X #2" in error and "names another mutant" in error
    assert "Fix: correct the entry's operator and occurrence" in error
    assert not (tmp_path / "out").exists()


def test_a_classification_that_is_no_kept_survivor_is_unknown(tmp_path: Path) -> None:
    run = read_run(write_report(tmp_path / "r.json", *SAMPLE))
    classes = mutation_classes.load(write_classes(tmp_path / "c.yaml", [
        ("b.py", SHA_B, 2, 12, "equivalent"),   # a survivor of the report
        ("b.py", SHA_B, 0, 10, "equivalent"),   # killed there, not a survivor
        ("b.py", SHA_B, 7, 17, "accepted"),     # no such mutant in the report
        ("b.py", OTHER, 3, 13, "accepted")]))   # another source
    assert mutation_classes.unknown(classes, [run]) == [
        f"b.py ({SHA_B[:12]}) line 10 core/X #0", f"b.py ({SHA_B[:12]}) line 17 core/X #7",
        f"b.py ({OTHER[:12]}) line 13 core/X #3"]


@pytest.mark.parametrize(("change", "where", "fix"), [
    (lambda s: s.update({"class": "harmless"}), "modules[0].survivors[0].class",
     "Fix: write one of: equivalent, killed-by-cell, out-of-scope, accepted"),
    (lambda s: s.pop("reason"), "modules[0].survivors[0].reason", "Fix: say why"),
    (lambda s: s.update({"operator": "ReplaceX"}), "modules[0].survivors[0].operator",
     "Fix: write cosmic-ray's operator name"),
    (lambda s: s.update({"ocurrence": 2}), "modules[0].survivors[0].ocurrence",
     "Fix: remove or rename this field (an entry has operator, occurrence"),
])
def test_a_bad_classifications_file_names_the_file_line_field_and_fix(
        tmp_path: Path, change: Any, where: str, fix: str) -> None:
    path = write_classes(tmp_path / "c.yaml", [("b.py", SHA_B, 2, 12, "equivalent")])
    data = yaml.safe_load(path.read_text())
    change(data["modules"][0]["survivors"][0])
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ScenarioError) as refused:
        mutation_classes.load(path)
    field = where.rsplit(".", 1)[-1]
    written = [n for n, text in enumerate(path.read_text().splitlines(), 1)
               if text.strip(" -").startswith(f"{field}:")]
    line = written[0] if written else 5  # a missing field: the line its entry starts on
    assert str(refused.value).startswith(f"{path}:{line}: {where}: ")
    assert fix in str(refused.value)


def test_a_mutant_classified_twice_on_one_source_is_refused(tmp_path: Path) -> None:
    path = write_classes(tmp_path / "c.yaml", [("b.py", SHA_B, 2, 12, "equivalent"),
                                               ("b.py", SHA_B, 2, 12, "accepted")])
    with pytest.raises(ScenarioError, match=r"core/X #2 classified twice in b\.py: keep one"):
        mutation_classes.load(path)


def test_reports_of_one_source_combine_counting_a_mutant_drawn_twice_once(tmp_path: Path) -> None:
    first = write_report(tmp_path / "1.json", [mutant("b.py", 0, "killed"),
                                               mutant("b.py", 2, "survived")], {"b.py": 8},
                         {"b.py": SHA_B})
    second = write_report(tmp_path / "2.json", [mutant("b.py", 2, "survived"),
                                                mutant("b.py", 5, "killed")], {"b.py": 8},
                          {"b.py": SHA_B})
    both = combined([read_run(first), read_run(second)])
    assert both.repeated == 1 and len(both.judged()) == 3
    assert both.per_module["b.py"] == {"killed": 2, "survived": 1, "not-sampled": 7}
    edited = write_report(tmp_path / "3.json", [mutant("b.py", 1, "killed")], {"b.py": 9},
                          {"b.py": OTHER})
    with pytest.raises(ScenarioError, match="the same positions name other mutants"):
        combined([read_run(first), read_run(edited)])


def test_the_docs_quote_the_tool_and_every_classification_is_a_kept_survivor() -> None:
    """README.md and docs/mutation-survivors.md hold the tool's output for the kept
    reports; each entry of docs/mutation-tool/survivors.yaml is one of their survivors,
    and each of their survivors is classified on its own source."""
    classes = mutation_classes.load()
    assert mutation_doc.problems(classes) == []
    for report in sorted((mutation_doc.ROOT / "docs" / "mutation-tool").glob("sample*.json")):
        verdicts = mutation_classes.judge(read_run(report), classes)
        assert not verdicts.unclassified and not verdicts.stale, report.name


def test_the_docs_check_fails_when_a_figure_or_a_table_drifts(tmp_path: Path) -> None:
    classes = mutation_classes.load()
    readme = (mutation_doc.ROOT / "README.md").read_text()
    survivors = (mutation_doc.ROOT / "docs" / "mutation-survivors.md").read_text()
    typed = tmp_path / "README.md"
    typed.write_text(readme.replace("91.3% +/- 3.4% net of", "92% +/- 3% net of"))
    drifted = tmp_path / "mutation-survivors.md"
    drifted.write_text(survivors.replace("| equivalent | a cache: same answers |",
                                         "| accepted | a cache: same answers |", 1))
    found = mutation_doc.problems(classes, (typed, drifted))
    assert any("`92% +/- 3% net of` is not a figure the tool printed" in p for p in found)
    assert any(p.startswith(f"{drifted}: a generated block differs") for p in found)


def test_a_run_writes_the_same_net_figures_into_its_own_report(tmp_path: Path) -> None:
    """A fresh run lists every mutant, not-sampled ones included (kept samples list only
    the judged): its report carries the same raw and net figures as `--score` gives."""
    judged, left_out = SAMPLE
    everything = [Mutant(**entry) for entry in judged] + [
        Mutant(module, 100 + n, "core/X", 100 + n, "f", "not-sampled")
        for module, count in left_out.items() for n in range(count)]
    run = Run.of(everything, ["s"], 60.0, {"a.py": SHA_A, "b.py": SHA_B})
    classes = mutation_classes.load(write_classes(tmp_path / "c.yaml",
                                                  [("b.py", SHA_B, 2, 12, "equivalent")]))
    write_reports(tmp_path, Scorecard(run, mutation_classes.judge(run, classes)))
    written = json.loads((tmp_path / "mutation-tool.json").read_text())
    assert written["net"]["sample_estimate"]["score"] == pytest.approx(0.8 + 0.2 * 2 / 3)
    assert written["sample_estimate"]["score"] == pytest.approx(0.875)
    assert written["counts"]["not-sampled"] == 34 and len(written["mutants"]) == 40


def test_scoring_an_interrupted_report_says_so_and_does_not_exit_0(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = write_report(tmp_path / "r.json", *SAMPLE)
    report.write_text(report.read_text().replace('"interrupted": false', '"interrupted": true'))
    classes = write_classes(tmp_path / "c.yaml", [("b.py", SHA_B, 2, 12, "equivalent")])
    assert mutation_tool.main(["--score", str(report), "--classes", str(classes),
                               "--report-dir", str(tmp_path / "out")]) == 130
    assert "INTERRUPTED: a partial result" in capsys.readouterr().out
