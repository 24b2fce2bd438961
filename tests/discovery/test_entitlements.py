"""Entitlements bind to a discovered stack, or fail naming the file, the YAML path and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from rolecall.account.discovery import Discovery, discover
from rolecall.model import entitlements as ent
from rolecall.model.errors import ScenarioError
from tests.discovery.conftest import TeamStack, entitlements_text, variant_of


@pytest.fixture(scope="module")
def found(team: TeamStack) -> Discovery:
    return discover(team.target, identity_pool_id=team.pool_id)


def bind(found: Discovery, tmp_path: Path, text: str) -> object:
    path = tmp_path / "entitlements.yaml"
    path.write_text(text)
    return ent.bind(ent.load(path), found.scenario, found.aliases)


def test_personas_become_users_and_their_allow_the_roles_access(
        team: TeamStack, found: Discovery, tmp_path: Path) -> None:
    scenario = bind(found, tmp_path, entitlements_text(team))
    admin, editor = team.role("rbac-users-admin-role"), team.role("rbac-users-editor-role")
    assert {u: s.groups for u, s in scenario.users.items()} == {  # type: ignore[attr-defined]
        "admins": ["rbac-admins"], "admins-editors": ["rbac-admins", "rbac-editors"],
        "editors": ["rbac-editors"], "no-group": []}
    roles = scenario.roles  # type: ignore[attr-defined]
    assert "PutItem" in roles[editor].allowed and "DeleteItem" not in roles[editor].allowed
    assert len(roles[admin].allowed) == 10
    refused = [e for e in scenario.expect if e.user == "no-group"]  # type: ignore[attr-defined]
    assert [(e.variant, e.refused) for e in refused] == [(variant_of(team), "NotAuthorizedException")]


@pytest.mark.parametrize(("change", "where", "fix"), [
    (("[rbac-editors]", "[rbac-writers]"), "personas.editors.groups[0]", "rbac-admins"),
    (("allow: {{{table}: [GetItem", "allow: {{Books: [GetItem"), "personas.editors.allow.Books",
     "use one of"),
    (("[GetItem, BatchGetItem", "[Fetch, BatchGetItem"), "personas.editors.allow", "use one of"),
    (("role: {editor}", "role: {admin}"), "personas.editors.role", "correct the role"),
    (("no-group: {{groups: [], role: refused}}", "no-group: {{groups: [], role: {editor}}}"),
     "personas.no-group.role", "correct the role"),
    (("guest: true, role: refused, allow: {{}}", "guest: true, allow: {{{table}: [Scan]}}"),
     "personas.guest.allow", "allow: {}"),
])
def test_bad_entitlements_name_file_path_and_fix(team: TeamStack, found: Discovery, tmp_path: Path,
                                                 change: tuple[str, str], where: str, fix: str) -> None:
    names = {"table": team.stack.table_name, "editor": team.role("rbac-users-editor-role"),
             "admin": team.role("rbac-users-admin-role")}
    old, new = (part.replace("{{", "{").replace("}}", "}").format(**names) if "{" in part and
                "{{" not in part else part.format(**names) for part in change)
    text = entitlements_text(team)
    assert old in text, old
    with pytest.raises(ScenarioError) as error:
        bind(found, tmp_path, text.replace(old, new))
    assert error.value.file.endswith("entitlements.yaml")
    assert error.value.where.startswith(where), error.value
    assert fix in error.value.fix or fix in str(error.value), error.value


def test_one_role_one_access(team: TeamStack, found: Discovery, tmp_path: Path) -> None:
    """Two personas receiving the same role cannot be promised different access."""
    text = entitlements_text(team).replace(
        "admins-editors: {groups: [rbac-admins, rbac-editors], role: "
        f"{team.role('rbac-users-admin-role')}, allow: {{{team.stack.table_name}: [\"*\"]}}}}",
        "admins-editors: {groups: [rbac-admins, rbac-editors], allow: "
        f"{{{team.stack.table_name}: [GetItem]}}}}")
    with pytest.raises(ScenarioError) as error:
        bind(found, tmp_path, text)
    assert error.value.where == "personas.admins-editors.allow"
    assert "same role gives the same access" in error.value.fix


def test_a_file_that_is_not_there(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as error:
        ent.load(tmp_path / "missing.yaml")
    assert "rolecall init" in error.value.fix


def test_groups_or_guest_not_both(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text("personas:\n  odd: {groups: [], guest: true}\n")
    with pytest.raises(ScenarioError) as error:
        ent.load(path)
    assert error.value.where == "personas.odd"


def test_index_lines_take_query_and_scan_only(team: TeamStack, found: Discovery, tmp_path: Path) -> None:
    """The stack's table has no index: naming one is an error, as is PutItem on an index."""
    table = team.stack.table_name
    text = entitlements_text(team).replace(
        "  no-group: {groups: [], role: refused}",
        f"  no-group: {{groups: [], role: refused, allow: {{{table}/index/byTitle: [Query]}}}}")
    with pytest.raises(ScenarioError) as error:
        bind(found, tmp_path, text)
    assert error.value.where == f"personas.no-group.allow.{table}/index/byTitle"
    assert "has no index 'byTitle'" in error.value.problem and error.value.fix == "use one of: none"


FILE = """\
stack: S
personas:
  readers:
    groups: [Readers]
    custom_role_arn: R
    allow: {Books: [GetItem]}
  guest: {guest: true}
accepted_findings:
  - {check: escalation, subject: web/readers, reason: known}
"""


@pytest.mark.parametrize(("old", "new", "line", "where", "meant"), [
    ("stack: S", "stak: S", 1, "stak", "stack"),
    ("custom_role_arn: R", "custom_role_ar: R", 5, "personas.readers.custom_role_ar",
     "custom_role_arn"),
    ("    allow:", "    alow:", 6, "personas.readers.alow", "allow"),
    ("{guest: true}", "{gest: true}", 7, "personas.guest.gest", "guest"),
    ("subject: web", "subjet: web", 9, "accepted_findings[0].subjet", "subject"),
], ids=["top-level", "persona", "persona-block", "persona-flow-style", "accepted-finding"])
def test_a_misspelled_field_says_did_you_mean(tmp_path: Path, old: str, new: str, line: int,
                                               where: str, meant: str) -> None:
    """Issue 24.9: file:line: path: problem. Fix: did you mean <the field at that path>?"""
    path = tmp_path / "e.yaml"
    assert old in FILE
    path.write_text(FILE.replace(old, new, 1))
    with pytest.raises(ScenarioError) as error:
        ent.load(path)
    first = str(error.value).splitlines()[0]
    assert first.startswith(f"{path}:{line}: {where}: ")
    assert f"Fix: did you mean {meant}?" in first


def test_a_field_unlike_any_lists_the_fields_a_persona_has(tmp_path: Path) -> None:
    path = tmp_path / "e.yaml"
    path.write_text(FILE.replace("    allow:", "    colour: red\n    allow:"))
    with pytest.raises(ScenarioError) as error:
        ent.load(path)
    assert error.value.where == "personas.readers.colour" and error.value.line == 6
    assert error.value.fix == ("remove or rename this field; the fields here are groups, guest, "
                               "role, allow, allow_other_partition, attributes, flow, "
                               "custom_role_arn, user, client, user_pool")


def test_a_persona_written_twice_names_both_lines(tmp_path: Path) -> None:
    """YAML would keep the second `readers:` silently; the reviewed file says two things."""
    path = tmp_path / "e.yaml"
    path.write_text(FILE.replace("  guest: {guest: true}", "  readers: {groups: []}"))
    with pytest.raises(ScenarioError) as error:
        ent.load(path)
    assert str(error.value).startswith(f"{path}:7: personas.readers: ")
    assert "line 3" in str(error.value) and "line 7" in str(error.value)
