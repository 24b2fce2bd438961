"""The trust and configuration audit: each check with its hole open and shut, live = static.

Static rows build a small scenario, open one hole (or shut it) and assert exactly
which findings that check reports. The live tests provision a stack on the
embedded target and assert that reading it back through boto3 gives the same
findings as reading the scenario, so both sources share one model.
"""

from __future__ import annotations

import copy
import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from rolecall.account import cleanup, clients, provision
from rolecall.account.cleanup import Journal
from rolecall.account.provision import Provisioner, RunSecrets
from rolecall.cells import audit_facts, audit_live
from rolecall.cells.audit import audit_scenario
from rolecall.cells.audit_checks import CHECKS
from rolecall.cells.audit_facts import RoleFacts, granted, trust_grants, trusts
from rolecall.model import templates
from rolecall.model.scenario import AcceptedFinding, Scenario
from rolecall.tools import cli

ROOT = Path(__file__).resolve().parents[2]

READ = {"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                       "Resource": "{{table_arn}}"}]}
WRITE = {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "{{table_arn}}"}]}


def role(policy: dict[str, Any], **trust: str) -> dict[str, Any]:
    allowed = ["*"] if policy is WRITE else ["GetItem", "Query"]
    return {"policy": policy, "allowed": allowed, "source": "test",
            **({"trust": trust} if trust else {})}


# A stack with no hole: one read-only default role, a writer role reached by group,
# guests off, the basic flow off, a Rules mapping on an exact group name.
BASE: dict[str, Any] = {
    "name": "audit", "description": "d", "source": "test",
    "table": {"name": "t", "partition_key": {"name": "pk"}, "items": [{"pk": "x"}]},
    "roles": {"Reader": role(READ), "Writer": role(WRITE)},
    "groups": {"admins": {"role": "Writer"}, "staff": {}},
    "users": {"u": {"groups": ["staff"]}},
    "user_pool": {"custom_attributes": ["team"]},
    "identity_pool": {"authenticated_role": "Reader", "allow_classic_flow": False},
    "variants": {"v": {"mapping": {"type": "Rules", "ambiguous": "AuthenticatedRole", "rules": [
        {"claim": "cognito:groups", "match": "Equals", "value": "admins", "role": "Writer"}]}}},
}


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `changes` into a copy of `base`; a None value removes the key."""
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def scenario(**changes: Any) -> Scenario:
    return Scenario.model_validate(merge(BASE, changes))


GUESTS = {"identity_pool": {"unauthenticated_role": "Guest", "allow_unauthenticated": True},
          "roles": {"Guest": role(READ, amr="unauthenticated")}}
CLASSIC_ON = {"identity_pool": {"allow_classic_flow": True}, "variants": {"v": {"mapping": None}}}
CLASSIC_UNSET = {"identity_pool": {"allow_classic_flow": None}, "variants": {"v": {"mapping": None}}}


# issue 22: a pool that copies custom:team (which users may write: no WriteAttributes) into
# the principal tag `team`; a policy confined by it; a table policy open to anyone.
TAGGED = {"identity_pool": {"principal_tags": {"tags": {"team": "custom:team"}}}}
TENANT_READ = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": "{{table_arn}}",
    "Condition": {"ForAllValues:StringEquals": {
        "dynamodb:LeadingKeys": ["${aws:PrincipalTag/team}"]}}}]}
OPEN_WRITE = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": "*", "Action": "dynamodb:PutItem", "Resource": "{{table_arn}}"}]}


def rules(*rule: tuple[str, str, str, str]) -> dict[str, Any]:
    return {"variants": {"v": {"mapping": {"type": "Rules", "ambiguous": "Deny", "rules": [
        {"claim": c, "match": m, "value": v, "role": r} for c, m, v, r in rule]}}}}


CASES = [  # (case id, check, changes to BASE, expected {(subject, severity)})
    ("aud-open", "trust-without-aud", {"roles": {"Writer": {"trust": {"aud": "none"}}}},
     {("Writer", "critical")}),
    ("aud-shut", "trust-without-aud", {}, set()),
    ("aud-other-pool-unreferenced", "trust-without-aud",
     {"roles": {"Stray": role(READ, aud="other")}}, set()),
    ("amr-open", "trust-without-amr", {"roles": {"Reader": {"trust": {"amr": "none"}}}},
     {("Reader", "high")}),
    ("amr-admits-guests", "trust-without-amr", {"roles": {"Writer": {"trust": {"amr": "any"}}}},
     {("Writer", "high")}),
    ("amr-shut", "trust-without-amr", {}, set()),
    ("guest-role-no-amr", "guest-role-trusts-authenticated",
     merge(GUESTS, {"roles": {"Guest": {"trust": {"amr": "none"}}}}), {("Guest", "medium")}),
    ("guest-role-any", "guest-role-trusts-authenticated",
     merge(GUESTS, {"roles": {"Guest": {"trust": {"amr": "any"}}}}), {("Guest", "medium")}),
    ("guest-role-shut", "guest-role-trusts-authenticated", GUESTS, set()),
    ("classic-on-writer", "classic-flow-multiple-roles", CLASSIC_ON, {("v", "critical")}),
    ("classic-unset-writer", "classic-flow-multiple-roles", CLASSIC_UNSET, {("v", "critical")}),
    ("classic-on-readers", "classic-flow-multiple-roles",
     merge(CLASSIC_ON, {"roles": {"Writer": {"policy": READ, "allowed": ["GetItem", "Query"]}}}),
     {("v", "high")}),
    ("classic-beside-mappings", "classic-flow-multiple-roles",
     {"identity_pool": {"allow_classic_flow": None}}, {("v", "medium")}),
    ("classic-one-role", "classic-flow-multiple-roles",
     merge(CLASSIC_ON, {"roles": {"Writer": {"trust": {"aud": "other"}}}}), set()),
    ("classic-shut", "classic-flow-multiple-roles", {}, set()),
    ("writable-claim-writer", "rule-on-writable-claim",
     rules(("custom:team", "Equals", "platform", "Writer")), {("v", "critical")}),
    ("writable-claim-reader", "rule-on-writable-claim",
     rules(("custom:team", "NotEqual", "finance", "Reader")), {("v", "high")}),
    ("writable-standard-attribute", "rule-on-writable-claim",
     rules(("email", "Contains", "@example.com", "Writer")), {("v", "critical")}),
    ("writable-claim-not-writable", "rule-on-writable-claim",
     merge(rules(("custom:team", "Equals", "platform", "Writer")),
           {"user_pool": {"writable_attributes": ["email"]}}), set()),
    ("writable-claim-shut", "rule-on-writable-claim", {}, set()),
    ("contains-longer-group", "contains-rule-overmatch",
     merge(rules(("cognito:groups", "Contains", "admins", "Writer")),
           {"groups": {"admins-readonly": {"role": "Reader"}}}), {("v", "medium")}),
    ("contains-two-groups", "contains-rule-overmatch",
     merge(rules(("cognito:groups", "Contains", "admin", "Writer")),
           {"groups": {"admins-readonly": {}}}), {("v", "medium")}),
    ("contains-exact", "contains-rule-overmatch",
     rules(("cognito:groups", "Contains", "admins", "Writer")), set()),
    ("contains-shut", "contains-rule-overmatch",
     merge(rules(("cognito:groups", "Equals", "admins", "Writer")),
           {"groups": {"admins-readonly": {}}}), set()),
    ("guest-write-basic-flow", "guest-write",
     merge(merge(GUESTS, CLASSIC_ON), {"roles": {"Guest": {"policy": WRITE, "allowed": ["*"]}}}),
     {("Guest", "high")}),
    ("guest-write-scoped-down", "guest-write",
     merge(GUESTS, {"roles": {"Guest": {"policy": WRITE, "allowed": ["*"]}}}),
     {("Guest", "medium")}),
    ("guest-write-guests-off", "guest-write",
     merge(GUESTS, {"identity_pool": {"allow_unauthenticated": False},
                    "roles": {"Guest": {"policy": WRITE, "allowed": ["*"]}}}), set()),
    ("guest-write-shut", "guest-write", merge(GUESTS, CLASSIC_ON), set()),
    # issue 22: principal tags, table policies, LeadingKeys
    ("tag-on-writable-read", "tag-on-writable-claim",
     merge(TAGGED, {"roles": {"Reader": {"policy": TENANT_READ}}}), {("v", "critical")}),
    ("tag-on-writable-unread", "tag-on-writable-claim", TAGGED, {("v", "high")}),
    ("tag-on-writable-shut", "tag-on-writable-claim",
     merge(TAGGED, {"user_pool": {"writable_attributes": ["email"]}}), set()),
    ("tags-no-tag-session", "tags-without-tag-session", TAGGED, {("v", "medium")}),
    ("tags-tag-session", "tags-without-tag-session",
     merge(TAGGED, {"roles": {"Reader": {"trust": {"tag_session": True}},
                              "Writer": {"trust": {"tag_session": True}}}}), set()),
    ("table-policy-open-write", "table-policy-open", {"table": {"policy": OPEN_WRITE}},
     {("t", "critical")}),
    ("table-policy-open-read", "table-policy-open", {"table": {"policy": {
        "Version": "2012-10-17", "Statement": [{**OPEN_WRITE["Statement"][0],
                                                "Action": "dynamodb:GetItem"}]}}},
     {("t", "high")}),
    ("table-policy-conditioned", "table-policy-open", {"table": {"policy": {
        "Version": "2012-10-17", "Statement": [{**OPEN_WRITE["Statement"][0], "Condition": {
            "StringEquals": {"aws:PrincipalAccount": "{{account}}"}}}]}}}, set()),
    ("leading-keys-scan", "leading-keys-scan",
     {"roles": {"Reader": {"policy": {"Version": "2012-10-17", "Statement": [
         {**TENANT_READ["Statement"][0], "Action": ["dynamodb:Query", "dynamodb:Scan"]}]}}}},
     {("Reader", "high")}),
    ("leading-keys-no-scan", "leading-keys-scan",
     {"roles": {"Reader": {"policy": TENANT_READ}}}, set()),
    ("leading-keys-partiql", "leading-keys-scan",
     {"roles": {"Reader": {"policy": {"Version": "2012-10-17", "Statement": [
         {**TENANT_READ["Statement"][0], "Action": ["dynamodb:PartiQLSelect"]}]}}}},
     {("Reader", "high")}),
    ("leading-keys-partiql-guarded", "leading-keys-scan",
     {"roles": {"Reader": {"policy": {"Version": "2012-10-17", "Statement": [
         {**TENANT_READ["Statement"][0], "Action": ["dynamodb:PartiQLSelect"]},
         {"Effect": "Deny", "Action": "dynamodb:PartiQLSelect", "Resource": "*",
          "Condition": {"Bool": {"dynamodb:FullTableScan": "true"}}}]}}}}, set()),
]


def test_every_check_has_a_row_with_the_hole_and_one_without() -> None:
    assert {c for _, c, _, found in CASES if found} == set(CHECKS)
    assert {c for _, c, _, found in CASES if not found} == set(CHECKS)


def test_the_base_stack_has_no_finding() -> None:
    assert audit_scenario(scenario()).findings == ()


@pytest.mark.parametrize(("case", "check", "changes", "expected"), CASES, ids=[c[0] for c in CASES])
def test_check(case: str, check: str, changes: dict[str, Any], expected: set[tuple[str, str]]
               ) -> None:
    result = audit_scenario(scenario(**changes))
    found = result.of_check(check)
    assert {(f.subject, f.severity) for f in found} == expected
    for finding in found:
        assert finding.rule == CHECKS[check].rule
        assert finding.subject in finding.message  # says what, in the stack's own names
        assert finding.fix


# --- reading IAM JSON -------------------------------------------------------------------

def test_actions_with_wildcards_notaction_and_blanket_deny() -> None:
    writes = ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"]
    assert granted([{"Statement": [{"Effect": "Allow", "Action": "DynamoDB:*Item",
                                    "Resource": "x"}]}], writes) == writes  # case-insensitive
    assert granted([{"Statement": {"Effect": "Allow", "NotAction": "dynamodb:Delete*",
                                   "Resource": "*"}}], writes) == ["PutItem", "UpdateItem",
                                                                    "BatchWriteItem"]
    assert granted([{"Statement": [{"Effect": "Allow", "Action": "dynamodb:Put?tem"}]}],
                   writes) == ["PutItem"]
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    blanket = {"Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": "*"}
    scoped = {"Effect": "Deny", "Action": "dynamodb:UpdateItem", "Resource": "arn:table/x"}
    assert granted([{"Statement": [everything, blanket, scoped]}], writes) == [
        "UpdateItem", "DeleteItem", "BatchWriteItem"]


def test_trust_conditions() -> None:
    aud, amr = audit_facts.AUD, audit_facts.AMR
    statement = {"Effect": "Allow", "Principal": {"Federated": audit_facts.COGNITO},
                 "Action": "sts:AssumeRoleWithWebIdentity"}
    like = {**statement, "Condition": {"StringLike": {aud: "eu-west-1:*"},
                                       "ForAnyValue:StringLike": {amr: "authenticated"}}}
    role = RoleFacts("r", {"Statement": [like]}, ())
    assert trusts(role, "eu-west-1:abc", "authenticated")
    assert not trusts(role, "us-east-1:abc", "authenticated")
    assert not trusts(role, "eu-west-1:abc", "unauthenticated")
    negated = {**statement, "Condition": {"StringNotEquals": {aud: "eu-west-1:abc"}}}
    assert trust_grants({"Statement": [negated]})[0].aud is None  # not a restriction
    other = {**statement, "Principal": {"Service": "lambda.amazonaws.com"}}
    assert trust_grants({"Statement": [other]}) == []
    encoded = "%7B%22Statement%22%3A%20%5B%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Principal" \
              "%22%3A%20%7B%22Federated%22%3A%20%22cognito-identity.amazonaws.com%22%7D%2C%20" \
              "%22Action%22%3A%20%22sts%3AAssumeRoleWithWebIdentity%22%7D%5D%7D"
    assert audit_facts.parse_document(encoded)["Statement"][0]["Action"] == "sts:AssumeRoleWithWebIdentity"


def test_acceptances_mark_findings_and_stale_ones_are_reported() -> None:
    holes = scenario(roles={"Writer": {"trust": {"aud": "none"}}},
                     accepted_findings=[
                         {"check": "trust-without-aud", "subject": "Writer", "reason": "known"},
                         {"check": "guest-write", "subject": "Nobody", "reason": "old"},
                         {"check": "escalation", "subject": "u", "reason": "not the audit's"}])
    result = audit_scenario(holes)
    assert [(f.check, f.accepted) for f in result.findings] == [("trust-without-aud", "known")]
    assert not [f for f in result.findings if f.fails("low")]  # the finding is accepted ...
    assert result.failing_at("critical")  # ... but the stale acceptance fails at any threshold
    assert result.stale == (AcceptedFinding(check="guest-write", subject="Nobody", reason="old"),)


# --- the command line -------------------------------------------------------------------

def write_scenario(directory: Path, data: dict[str, Any]) -> None:
    directory.mkdir(exist_ok=True)
    (directory / f"{data['name']}.yaml").write_text(json.dumps(data))  # JSON is YAML


def test_cli_exits_1_on_an_open_critical_and_prints_json(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    write_scenario(tmp_path, merge(BASE, {"roles": {"Writer": {"trust": {"aud": "none"}}}}))
    assert cli.main(["audit", "--scenario-dir", str(tmp_path)]) == 1
    printed = capsys.readouterr().out
    assert "CRITICAL trust-without-aud" in printed and "[OPEN]" in printed
    assert cli.main(["audit", "--scenario-dir", str(tmp_path), "--json"]) == 1
    stack = json.loads(capsys.readouterr().out)["stacks"][0]
    assert [(f["check"], f["subject"], f["rule"]) for f in stack["findings"]] == [
        ("trust-without-aud", "Writer", "T3")]
    write_scenario(tmp_path, BASE)
    assert cli.main(["audit", "--scenario-dir", str(tmp_path)]) == 0


MEDIUM_ONLY = merge(rules(("cognito:groups", "Contains", "admin", "Writer")),
                   {"groups": {"admins-readonly": {}}})  # contains-rule-overmatch: medium


def test_one_threshold_decides_what_fails_and_findings_below_it_are_still_printed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 24, item 11: `--fail-on` (default low: every open finding fails, as the
    suite's cells do); a finding below the threshold is printed and in the JSON, never hidden."""
    write_scenario(tmp_path, merge(BASE, MEDIUM_ONLY))
    base = ["audit", "--scenario-dir", str(tmp_path)]
    assert cli.main(base) == 1  # a medium finding nobody accepted fails by default
    printed = capsys.readouterr().out
    assert "MEDIUM   contains-rule-overmatch" in printed and "[OPEN]" in printed
    assert "fail on: low and above (--fail-on low)" in printed
    assert cli.main([*base, "--fail-on", "high"]) == 0
    printed = capsys.readouterr().out
    assert "contains-rule-overmatch" in printed  # reported, not hidden
    assert "[OPEN, below --fail-on high: reported, not failing]" in printed
    assert "1 open below the threshold (reported, not failing)" in printed
    assert cli.main([*base, "--fail-on", "medium", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert (data["fail_on"], data["failing"]) == ("medium", True)
    assert cli.main([*base, "--fail-on", "critical", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    [finding] = data["stacks"][0]["findings"]
    assert (data["failing"], finding["severity"], finding["fails"]) == (False, "medium", False)
    with pytest.raises(SystemExit):
        cli.main([*base, "--fail-on", "severe"])  # argparse names the choices
    assert "invalid choice: 'severe'" in capsys.readouterr().err


def test_the_suites_audit_cells_take_the_same_threshold(tmp_path: Path) -> None:
    """`pytest suites --audit-fail-on high`: the medium finding no longer fails its cell, and
    the terminal, summary.md and evidence.json still say it is open."""
    import subprocess
    import sys

    import yaml

    data = yaml.safe_load((ROOT / "scenarios" / "escalation-open.yaml").read_text())
    data = {k: v for k, v in data.items() if not k.startswith("x-")}
    data["accepted_findings"] = [a for a in data["accepted_findings"]
                                 if a["check"] != "contains-rule-overmatch"]  # medium, open
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "escalation-open.yaml").write_text(yaml.safe_dump(data))

    def run(*extra: str) -> tuple[int, str, Path]:
        out = tmp_path / f"reports{len(extra)}"
        done = subprocess.run(
            [sys.executable, "-m", "pytest", str(ROOT / "suites"), "-q", "-n", "0",
             "-p", "no:cacheprovider", "-p", "no:randomly", "--scenario-dir",
             str(tmp_path / "scenarios"), "-k", "audit-contains", "--evidence-dir", str(out),
             *extra], cwd=ROOT, capture_output=True, text=True, timeout=300)
        [bundle] = [p for p in out.iterdir() if p.is_dir()]
        return done.returncode, done.stdout, bundle

    code, out, _ = run()
    assert code == 1 and "1 failed" in out, out[-2000:]  # default: every open finding fails
    code, out, bundle = run("--audit-fail-on", "high")
    assert code == 0 and "1 passed" in out, out[-2000:]
    said = "rolecall: 1 audit finding(s) open below --audit-fail-on high (reported, not failing)"
    assert said in out and "MEDIUM contains: identity pool contains" in out
    summary = (bundle / "summary.md").read_text()
    assert "## Audit findings open below the threshold (1)" in summary
    assert "| escalation-open-audit-contains-rule-overmatch | medium | contains |" in summary
    [cell] = json.loads((bundle / "evidence.json").read_text())["cells"]
    assert cell["details"]["fail_on"] == "high"
    assert [(f["subject"], f["fails"]) for f in cell["details"]["findings"]] == [
        ("contains", False)]
    assert "open below --audit-fail-on high: contains" in (bundle / "matrix.html").read_text()


def test_a_stale_acceptance_fails_the_cli_as_it_fails_the_suite(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_scenario(tmp_path, merge(BASE, {"accepted_findings": [
        {"check": "guest-write", "subject": "Nobody", "reason": "old"}]}))
    assert cli.main(["audit", "--scenario-dir", str(tmp_path), "--fail-on", "critical"]) == 1
    assert "STALE" in capsys.readouterr().out


def test_cli_on_the_seed_setups_prints_what_a_reviewer_raises(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["audit", "--scenario-dir", str(ROOT / "scenarios"), "--scenario", "books",
                     "--scenario", "seed-rules", "--scenario", "seed-admin-editor"])
    printed = capsys.readouterr().out
    assert code == 0, printed  # every finding is accepted, with its reason
    books = printed.split("\n\n")[0]
    assert "trust-without-amr" in books and "BooksReadAccess" in books and "Seed 002" in books
    assert printed.count("classic-flow-multiple-roles") == 3  # seed-rules x2, seed-admin-editor
    # the words matrix.html uses for the same setting (issue 24, item 2: one truth)
    assert "AllowClassicFlow unset: enabled (C2)" in printed and "(off)" not in printed


def test_cli_names_an_unknown_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["audit", "--scenario-dir", str(ROOT / "scenarios"), "--scenario", "nope"]) == 2
    assert "no scenario named" in capsys.readouterr().err


# --- live = static ----------------------------------------------------------------------

HOLES = merge(BASE, {
    "name": "holes",
    "table": {"policy": OPEN_WRITE},
    "roles": {"Writer": {"trust": {"aud": "none"}},
              "Reader": {"trust": {"amr": "none"}, "policy": {"Version": "2012-10-17", "Statement": [
                  {**TENANT_READ["Statement"][0], "Action": ["dynamodb:Query", "dynamodb:Scan"]}]}},
              "Guest": role(WRITE, amr="any")},
    "groups": {"admins-readonly": {"role": "Reader"}},
    "identity_pool": {"unauthenticated_role": "Guest", "allow_unauthenticated": True,
                      "principal_tags": {"tags": {"team": "custom:team"}}},
    "variants": {
        "classic": {"mapping": None, "allow_classic_flow": None},
        "v": rules(("custom:team", "Equals", "platform", "Writer"),
                   ("cognito:groups", "Contains", "admin", "Writer"))["variants"]["v"]},
})
SHUT = merge(BASE, {"name": "shut", "user_pool": {"writable_attributes": ["email"]},
                    "variants": rules(("custom:team", "Equals", "platform", "Writer"))["variants"]})


def live_findings(target: clients.Target, stack: provision.Stack, runid: str, variant: str
                  ) -> set[tuple[str, str, str, str]]:
    """The live audit of one variant's pool, with physical names read back as logical ones."""
    result = audit_live.audit_live(target, stack.identity_pools[variant], role_prefix=f"rc-{runid}-")
    logical = {audit_live.role_name(arn): name for name, arn in stack.roles.items()}
    logical[templates.physical_name(runid, stack.scenario, variant, 128)] = variant
    logical[stack.table_name] = "t"
    assert result.notes == ()
    return {(f.check, logical.get(f.subject, f.subject), f.severity, f.rule) for f in result.findings}


def static_findings(spec: Scenario, variant: str) -> set[tuple[str, str, str, str]]:
    return {(f.check, f.subject, f.severity, f.rule)
            for f in audit_scenario(spec, [variant]).findings}


@pytest.mark.parametrize("data", [HOLES, SHUT], ids=["holes", "shut"])
def test_live_audit_of_a_provisioned_stack_equals_the_static_audit(
        target: clients.Target, run_secrets: RunSecrets, journal: Journal,
        data: dict[str, Any]) -> None:
    spec = Scenario.model_validate(data)
    runid = secrets.token_hex(4)
    stack = Provisioner(target, runid, run_secrets, journal).provision(spec)
    try:
        seen = set()
        for variant in spec.variants:
            static = static_findings(spec, variant)
            assert live_findings(target, stack, runid, variant) == static, variant
            seen |= {check for check, *_ in static}
        assert seen == (set(CHECKS) if spec.name == "holes" else set())
    finally:
        assert cleanup.teardown(target, journal) == []


def test_live_audit_reads_write_attributes_attached_policies_and_flow_changes(
        target: clients.Target, run_secrets: RunSecrets, journal: Journal) -> None:
    """What only a live stack can change: the app client, attached policies, the pool itself."""
    spec = Scenario.model_validate(HOLES)
    runid = secrets.token_hex(4)
    stack = Provisioner(target, runid, run_secrets, journal).provision(spec)
    try:
        idp, iam, identity = (target.client(s) for s in ("cognito-idp", "iam", "cognito-identity"))
        assert ("rule-on-writable-claim", "v", "critical", "E9") in live_findings(
            target, stack, runid, "v")
        idp.update_user_pool_client(UserPoolId=stack.user_pool_id, ClientId=stack.client_id,
                                    WriteAttributes=["email"])
        assert "rule-on-writable-claim" not in {f[0] for f in live_findings(target, stack, runid, "v")}

        reader = audit_live.role_name(stack.roles["Reader"])
        iam.delete_role_policy(RoleName=reader, PolicyName="rolecall-access")
        assert ("classic-flow-multiple-roles", "classic", "critical", "C5") in live_findings(
            target, stack, runid, "classic")
        managed = iam.create_policy(PolicyName=f"rc-{runid}-put", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "*"}]}))
        iam.attach_role_policy(RoleName=reader, PolicyArn=managed["Policy"]["Arn"])
        assert audit_facts.writes(audit_live._live_role(iam, reader)) == ["PutItem"]
        iam.detach_role_policy(RoleName=reader, PolicyArn=managed["Policy"]["Arn"])
        iam.delete_policy(PolicyArn=managed["Policy"]["Arn"])

        pool_id = stack.identity_pools["classic"]
        described = identity.describe_identity_pool(IdentityPoolId=pool_id)
        identity.update_identity_pool(**{k: described[k] for k in (
            "IdentityPoolId", "IdentityPoolName", "AllowUnauthenticatedIdentities",
            "CognitoIdentityProviders")}, AllowClassicFlow=False)
        after = {f[0] for f in live_findings(target, stack, runid, "classic")}
        assert "classic-flow-multiple-roles" not in after
    finally:
        assert cleanup.teardown(target, journal) == []


def test_cli_audits_a_live_pool(target: clients.Target, run_secrets: RunSecrets,
                                journal: Journal, capsys: pytest.CaptureFixture[str]) -> None:
    spec = Scenario.model_validate(HOLES)
    runid = secrets.token_hex(4)
    stack = Provisioner(target, runid, run_secrets, journal).provision(spec)
    try:
        code = cli.main(["audit", "--identity-pool-id", stack.identity_pools["classic"],
                         "--target", "emulated", "--endpoint-url", str(target.endpoint_url),
                         "--role-prefix", f"rc-{runid}-"])
        printed = capsys.readouterr().out
        assert code == 1
        assert f"live {target.region} identity pool {stack.identity_pools['classic']}" in printed
        assert "CRITICAL trust-without-aud" in printed
        assert cli.main(["audit", "--identity-pool-id", "eu-west-1:nope", "--target", "emulated",
                         "--endpoint-url", str(target.endpoint_url)]) == 2
    finally:
        assert cleanup.teardown(target, journal) == []
