"""Scenario files: what a user gets told when one is wrong, and the matrix they expand to."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from rolecall.cells import matrix
from rolecall.cells.escalation import escalation_cells
from rolecall.model import oracle, scenario
from rolecall.model.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[2]
BOOKS = yaml.safe_load((ROOT / "scenarios" / "books.yaml").read_text())


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def books(**changes: object) -> dict[str, object]:
    data = {k: v for k, v in BOOKS.items() if not k.startswith("x-")}
    data.update(changes)
    return data


BROKEN = [  # (case, file content, YAML path in the message, words of the fix)
    ("yaml-syntax", "name: [unclosed", "broken.yaml:1: YAML", "YAML syntax"),
    ("not-a-mapping", "- a\n- b\n", "broken.yaml:1: the whole file", "start the file"),
    ("missing-table", {k: v for k, v in books().items() if k != "table"}, "table", "add this field"),
    ("unknown-field", books(tabel={}), "tabel", "did you mean table?"),
    ("unknown-field-unlike-any", books(colour="red"), "colour",
     "remove or rename this field; the fields here are name, description, source, table"),
    ("unknown-role-in-group", books(groups={"g": {"role": "Nope"}}), "groups.g.role", "Nope"),
    ("unknown-group-of-user", books(users={"u": {"groups": ["ghost"]}}), "users.u.groups", "ghost"),
    ("bad-action", books(roles={**BOOKS["roles"], "X": {"policy": {"Statement": []},
                                                     "allowed": ["Teleport"], "source": "s"}}),
     "roles.X.allowed", "Teleport"),
    ("precedence-negative", books(groups={"g": {"precedence": -1}}), "groups.g.precedence", ""),
    ("rules-without-rules", books(variants={"v": {"mapping": {"type": "Rules",
                                                             "ambiguous": "Deny"}}}),
     "variants.v.mapping", "1 to 25 rules"),
    ("bad-match-type", books(variants={"v": {"mapping": {
        "type": "Rules", "ambiguous": "Deny",
        "rules": [{"claim": "c", "match": "Like", "value": "x", "role": "Authenticated"}]}}}),
     "match", "allowed values"),
    ("undeclared-custom-attribute", books(users={"u": {"attributes": {"custom:team": "x"}}}),
     "users.u.attributes", "user_pool.custom_attributes"),
    ("seed-item-without-key", books(table={**BOOKS["table"], "items": [{"author": "a"}]}),
     "table", "title"),
    ("max-session-below-an-hour", books(roles={**BOOKS["roles"], "X": {
        "policy": {"Statement": []}, "allowed": [], "source": "s",
        "max_session_duration": 900}}), "roles.X.max_session_duration", "3600"),
]


@pytest.mark.parametrize(("case", "content", "where", "fix"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_file_says_file_path_and_fix(tmp_path: Path, case: str, content: object,
                                              where: str, fix: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ScenarioError) as caught:
        scenario.load(path)
    message = str(caught.value)
    assert str(path) in message
    assert where in message
    assert fix in message
    first = message.splitlines()[0]
    assert re.match(rf"{re.escape(str(path))}:\d+: ", first), "every error names file:line"
    assert "Fix: " in first and not first.split(": ", 2)[1].startswith("top level")


GROUPS = """\
name: books
description: d
source: s
table: {name: t, partition_key: {name: k}, items: [{k: a}]}
roles:
  R: {policy: {Statement: []}, allowed: [GetItem], source: s}
groups:
  Admin: {role: R, precedence: 1}
  Readers: {role: R}
  Admin: {role: R, precedence: 2}
users:
  u: {groups: [Admin]}
variants:
  v: {}
"""


def test_a_group_defined_twice_names_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, GROUPS)
    with pytest.raises(ScenarioError) as caught:
        scenario.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:10: groups.Admin: ")
    assert "line 8" in message and "line 10" in message and "Fix: " in message


def test_a_duplicate_key_deep_inside_is_an_error_too(tmp_path: Path) -> None:
    path = write(tmp_path, GROUPS.replace("  Admin: {role: R, precedence: 2}\n", "").replace(
        "{role: R, precedence: 1}", "{role: R, precedence: 1, role: R}"))
    with pytest.raises(ScenarioError, match=r":8: groups\.Admin\.role: .*line 8"):
        scenario.load(path)


@pytest.mark.parametrize(("text", "line"), [
    ("name: books\ndescription: [unclosed\nsource: s\n", 2),  # the bracket, not the file end
    ("name: books\ndescription d\nsource: s\n", 2),  # the key without a colon
    ("name: books\ntable:\n  name: t\n partition_key: x\n", 4),  # bad indentation
])
def test_a_yaml_syntax_error_points_at_the_line_to_fix(tmp_path: Path, text: str, line: int) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        scenario.load(path)
    assert str(caught.value).startswith(f"{path}:{line}: YAML: ")


def test_a_validation_error_names_the_line_of_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, GROUPS.replace("  Admin: {role: R, precedence: 2}\n", "").replace(
        "Readers: {role: R}", "Readers: {role: Nope}"))
    with pytest.raises(ScenarioError) as caught:
        scenario.load(path)
    assert str(caught.value).startswith(f"{path}:9: groups.Readers.role: names role 'Nope'")


def test_every_problem_of_a_file_is_listed_each_with_its_fix(tmp_path: Path) -> None:
    path = write(tmp_path, GROUPS.replace("  Admin: {role: R, precedence: 2}\n", "").replace(
        "precedence: 1", "precedence: -1").replace("v: {}", "v: {mapping: {type: Tokn}}"))
    with pytest.raises(ScenarioError) as caught:
        scenario.load(path)
    lines = str(caught.value).splitlines()
    assert len(lines) >= 3 and all("Fix: " in line for line in lines)
    assert any(f"{path}:8: groups.Admin.precedence" in line for line in lines)
    assert any(f"{path}:13: variants.v.mapping.type" in line for line in lines)


MISSPELLED = GROUPS.replace("  Admin: {role: R, precedence: 2}\n", "") + (
    "expect:\n  - {user: u, variant: v, role: R, source: s}\n")


@pytest.mark.parametrize(("old", "new", "line", "where", "meant"), [
    ("description: d", "descripton: d", 2, "descripton", "description"),
    ("{name: k}", "{name: k, tpye: S}", 4, "table.partition_key.tpye", "type"),
    ("precedence: 1", "precedense: 1", 8, "groups.Admin.precedense", "precedence"),
    ("v: {}", "v: {mapping: {type: Token, ambigous: Deny}}", 13, "variants.v.mapping.ambigous",
     "ambiguous"),
    ("role: R, source: s}", "role: R, sorce: s}", 15, "expect[0].sorce", "source"),
], ids=["top-level", "table", "group", "mapping", "expect"])
def test_a_misspelled_field_says_did_you_mean(tmp_path: Path, old: str, new: str, line: int,
                                               where: str, meant: str) -> None:
    """Issue 24.9: the nearest field of the model at that YAML path, on the first line (a
    `Field required` the misspelling causes comes after it)."""
    assert old in MISSPELLED
    path = write(tmp_path, MISSPELLED.replace(old, new, 1))
    with pytest.raises(ScenarioError) as caught:
        scenario.load(path)
    first = str(caught.value).splitlines()[0]
    assert first.startswith(f"{path}:{line}: {where}: ")
    assert f"Fix: did you mean {meant}?" in first


def test_a_stated_role_that_contradicts_the_spec_fails_at_load(tmp_path: Path) -> None:
    data = books(expect=[{"user": "editor", "variant": "token-authrole", "role": "BooksReadAccess",
                          "source": "a mistaken reading of precedence"}])
    loaded = scenario.load(write(tmp_path, data))
    with pytest.raises(ScenarioError) as caught:
        oracle.check(loaded)
    message = str(caught.value)
    assert "user editor" in message and "SPEC rule E7b" in message
    assert "ISSUED(BooksWriteAccess)" in message and "broken.yaml" in message


def test_unknown_scenario_name_lists_the_known_ones() -> None:
    with pytest.raises(ScenarioError, match="choose from"):
        scenario.load_all(ROOT / "scenarios", only=["nope"])


def test_shipped_scenarios_expand_to_readable_unique_ids() -> None:
    scenarios = scenario.load_all(ROOT / "scenarios")
    for each in scenarios:
        oracle.check(each)
    ids = [c.id for c in matrix.access_cells(scenarios)]
    assert len(ids) == len(set(ids))
    assert "books-token-authrole-enhanced-testuser1-PutItem" in ids
    cells = matrix.credential_cells(scenarios)
    testuser1 = next(c for c in cells if c.id == "books-token-authrole-enhanced-testuser1")
    assert str(testuser1.expected) == "ISSUED(BooksReadAccess)"
    put = next(c for c in matrix.access_cells(scenarios)
               if c.id == "books-token-authrole-enhanced-testuser1-PutItem")
    assert put.expected == "DENIED"


def test_every_assumed_spec_rule_has_a_pinning_expectation() -> None:
    """SPEC marks G5 (null = null), G7, E5, E8, E10, C2, C3 as assumed: each needs a pin."""
    scenarios = scenario.load_all(ROOT / "scenarios")
    pinned = {e.pins for s in scenarios for e in s.expect if e.pins}
    sources = " ".join(v.source for s in scenarios for v in s.variants.values())
    sources += " ".join(r.source for s in scenarios for r in s.roles.values())
    assert {"G5", "G7", "E8", "E10"} <= pinned
    for rule in ("C2", "C3", "E5"):
        assert rule in sources, f"no scenario pins assumed rule {rule}"


def test_the_audit_command_stops_on_a_duplicate_group_with_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rolecall.tools import cli

    write(tmp_path, GROUPS)
    assert cli.main(["audit", "--scenario-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "broken.yaml:10: groups.Admin" in err and "line 8" in err


def test_self_service_attribute_writes_are_pinned_in_the_evidence() -> None:
    """Issue 12: what an app client without WriteAttributes lets a user write is assumed
    (custom attributes too); every escalation cell that relies on it says so."""
    cells = escalation_cells(scenario.load_all(ROOT / "scenarios", ["escalation-open", "books"]))
    pinned = {cell.id for cell in cells if cell.describe().details.get("pin")}
    assert "escalation-open-reader-escalation" in pinned
    assert "escalation-open-guest-escalation" not in pinned  # guests write no attribute
    assert not any(cell_id.startswith("books-") for cell_id in pinned)  # no such rule there


# --- the classic flow as a stated expectation (issue 24.1) -------------------------------

FLOWS = yaml.safe_load((ROOT / "scenarios" / "flows.yaml").read_text())


def flows(tmp_path: Path, *expect: dict[str, str]) -> scenario.Scenario:
    stated = [{"user": "member", "flow": "classic", "source": "s", **e} for e in expect]
    return scenario.load(write(tmp_path, {**FLOWS, "expect": stated}))


def test_a_classic_expectation_is_checked_against_the_classic_flow(tmp_path: Path) -> None:
    """member gets Authenticated in the enhanced flow; the classic flow answers by the pool
    and the asked role's trust alone (C1, C3, C5, C6)."""
    loaded = flows(
        tmp_path,
        {"variant": "classic-with-mappings", "custom_role": "Admin",
         "refused": "InvalidParameterException"},  # C3
        {"variant": "classic-off", "custom_role": "Admin", "refused": "InvalidParameterException"},
        {"variant": "classic-on", "custom_role": "Admin", "role": "Admin"},  # C5
        {"variant": "classic-on", "custom_role": "Guest", "refused": "AccessDenied"})  # C6
    oracle.check(loaded)
    rules = [oracle.stated_path(loaded, stated).rule for stated in loaded.expect]
    assert rules == ["C3", "C1", "C5", "C6"]


def test_a_classic_expectation_against_the_spec_names_the_path_and_rule(tmp_path: Path) -> None:
    loaded = flows(tmp_path, {"variant": "classic-with-mappings", "custom_role": "Admin",
                              "role": "Admin"})
    with pytest.raises(ScenarioError) as caught:
        oracle.check(loaded)
    assert caught.value.where == "expect[0] (user member, variant classic-with-mappings, classic=Admin)"
    assert "SPEC rule C3 gives REFUSED(InvalidParameterException)" in caught.value.problem


def test_a_stated_classic_expectation_is_the_source_of_its_classic_cell_only(tmp_path: Path) -> None:
    loaded = flows(tmp_path, {"variant": "classic-on", "custom_role": "Admin", "role": "Admin",
                              "source": "the basic flow lets anyone be Admin"})
    cells = {cell.id: cell for cell in matrix.credential_cells([loaded])}
    assert cells["flows-classic-on-classic=Admin-member"].source == \
        "the basic flow lets anyone be Admin"
    assert cells["flows-classic-on-enhanced-member"].source == "SPEC E6"
    assert cells["flows-classic-on-classic=Authenticated-member"].source == "SPEC C5"


@pytest.mark.parametrize(("change", "where", "words"), [
    ({"custom_role": None}, "expect[0]", "flow: classic needs custom_role"),
    ({"flows": ["enhanced", "guest"]}, "expect[0].flow", "flows: leaves that flow out"),
], ids=["no-role-asked", "classic-not-run"])
def test_a_classic_expectation_needs_a_role_and_the_flow(tmp_path: Path, change: dict[str, object],
                                                         where: str, words: str) -> None:
    stated = {"user": "member", "variant": "classic-on", "flow": "classic", "custom_role": "Admin",
              "role": "Admin", "source": "s"}
    stated.update({k: v for k, v in change.items() if k == "custom_role"})
    data = {**FLOWS, "expect": [{k: v for k, v in stated.items() if v is not None}],
            **{k: v for k, v in change.items() if k == "flows"}}
    with pytest.raises(ScenarioError) as caught:
        scenario.load(write(tmp_path, data))
    assert caught.value.where == where and words in caught.value.problem
