"""The near-miss machinery (issue 13): fault catalogue, the helpers cells use, the tool runner."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import re
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rolecall.account import tokens
from rolecall.cells import identity, matrix, refusals, sessions
from rolecall.emulator.faults import CATALOGUE
from rolecall.emulator.faults_nearmiss import NEAR_MISS
from rolecall.model import scenario
from rolecall.model.errors import ScenarioError
from rolecall.model.scenario import Trust
from rolecall.tools import mutation_score, mutation_spans, mutation_tool

ROOT = Path(__file__).resolve().parents[2]
EMULATOR = ROOT / "rolecall" / "emulator"


def test_every_near_miss_is_in_the_catalogue_once_and_bends_emulator_code() -> None:
    names = [fault.name for fault in CATALOGUE]
    assert len(names) == len(set(names)) >= 100
    source = "\n".join(p.read_text() for p in EMULATOR.rglob("*.py")
                       if p.name not in ("faults.py", "faults_nearmiss.py"))
    unused = [name for name, *_ in NEAR_MISS if f'"{name}"' not in source]
    assert not unused, f"near-miss faults no emulator code checks: {unused}"


def test_fault_model_lists_every_fault_and_every_spec_rule() -> None:
    model = (ROOT / "docs" / "fault-model.md").read_text()
    missing = [fault.name for fault in CATALOGUE if f"`{fault.name}`" not in model]
    assert not missing, f"docs/fault-model.md lacks {missing}"
    specs = [p / "shared" / "SPEC.md" for p in (ROOT.parent, ROOT.parent.parent)]  # ../shared
    spec = next((p for p in specs if p.exists()), None)
    rules = re.findall(r"^\| ([A-Z]\d+) \|", spec.read_text(), re.M) if spec else []
    rows = set(re.findall(r"^\| ([A-Z]\d+) \|", model, re.M))
    assert set(rules) <= rows, f"SPEC rules without a near-miss: {sorted(set(rules) - rows)}"


@pytest.mark.parametrize(("trust", "amr", "admitted"), [
    (Trust(), "authenticated", True),
    (Trust(amr_form="wildcard"), "authenticated", True),
    (Trust(amr_form="wildcard"), "unauthenticated", False),
    (Trust(amr_form="equals-wildcard"), "authenticated", False),
    (Trust(amr_form="wrong-case"), "authenticated", False),
    (Trust(amr="none", amr_form="wrong-case"), "authenticated", True),
    (Trust(aud_form="wrong-case"), "authenticated", False),
    (Trust(aud_form="ignore-case"), "authenticated", True),
    (Trust(principal="other"), "authenticated", False),
    (Trust(action="assume-role"), "authenticated", False),
])
def test_trust_forms_admit_what_iam_would(trust: Trust, amr: str, admitted: bool) -> None:
    assert trust.admits(amr) is admitted


def test_refusal_texts_are_checked_only_where_quoted() -> None:
    assert refusals.refusal_problem("C1", refusals.QUOTED["C1"]) is None
    assert refusals.refusal_problem("C1", refusals.QUOTED["C3"]) is not None
    assert refusals.refusal_problem("E7c", "anything") is None


def test_lifetime_tells_one_hour_from_fifteen_minutes_and_twelve_hours() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    at = now.timestamp()
    assert refusals.lifetime_problem({"Expiration": now + timedelta(hours=1)}, at) is None
    assert refusals.lifetime_problem({"Expiration": now + timedelta(minutes=15)}, at)
    assert refusals.lifetime_problem({"Expiration": now + timedelta(hours=12)}, at)
    assert refusals.lifetime_problem({}, at) is None  # classic flow: STS's own rules


def test_denial_text_names_session_action_and_table_arn() -> None:
    session = "arn:aws:sts::123456789012:assumed-role/R/CognitoIdentityCredentials"
    good = (f"User: {session} is not authorized to perform: dynamodb:Scan on resource: "
            "arn:aws:dynamodb:eu-west-1:123456789012:table/rc-x-t because no identity-based "
            "policy allows the dynamodb:Scan action")
    assert refusals.denial_problem(good, session, ["rc-x-t"], ["dynamodb:Scan"]) is None
    role_arn = good.replace(session, "arn:aws:iam::123456789012:role/R")
    assert refusals.denial_problem(role_arn, session, ["rc-x-t"], ["dynamodb:Scan"])
    bare = good.replace("arn:aws:dynamodb:eu-west-1:123456789012:table/rc-x-t", "rc-x-t")
    assert refusals.denial_problem(bare, session, ["rc-x-t"], ["dynamodb:Scan"])


def test_identity_ids_must_be_stable_distinct_and_regional() -> None:
    a, b = "eu-west-1:" + "0" * 8 + "-0000-0000-0000-" + "0" * 12, \
        "eu-west-1:" + "1" * 8 + "-0000-0000-0000-" + "0" * 12
    assert identity.identity_problem(a, a, b, "eu-west-1") is None
    assert identity.identity_problem(a, b, b, "eu-west-1")  # a new id per call
    assert identity.identity_problem(a, a, a, "eu-west-1")  # one id for everyone
    assert identity.identity_problem(a.split(":", 1)[1], a, b, "eu-west-1")  # no region


def test_binding_problem_tells_a_moved_login_apart() -> None:
    a, b, c = (f"eu-west-1:{n * 8}-0000-0000-0000-{n * 12}" for n in "abc")
    p = "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x"
    assert identity.binding_problem((a, b), (a, b), ([p], [p]), p) is None
    assert identity.binding_problem((a, b), (a, a), ([p], [p]), p)  # B's login moved onto A
    assert identity.binding_problem((a, b), (c, b), ([p], [p]), p)  # A's identity lost
    assert identity.binding_problem((a, b), (a, c), ([p], [p]), p)  # B relinked elsewhere
    assert identity.binding_problem((a, b), (a, b), ([p], []), p)  # B's identity unlinked


def test_duration_refusals_are_the_whole_texts_and_expiry_is_as_asked() -> None:
    assert refusals.duration_refusal("C7", 7201) == (
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    assert refusals.duration_refusal("C8", 899) == (
        "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy "
        "constraint: Member must have value greater than or equal to 900")
    assert refusals.duration_refusal("C8", 43201).endswith(
        "Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have "
        "value less than or equal to 43200")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    at = now.timestamp()
    assert sessions.expiry_problem({"Expiration": now + timedelta(hours=2)}, 7200, at) is None
    assert sessions.expiry_problem({"Expiration": now + timedelta(hours=1)}, 7200, at)
    assert sessions.expiry_problem({}, 7200, at)


def test_binding_and_session_cells_run_only_where_they_discriminate() -> None:
    found = scenario.load_all(ROOT / "scenarios", ["per-identity", "flows", "books"])
    assert {c.id: str(c.expected) for c in identity.binding_cells(found)} == {
        "per-identity-token-enhanced-ben-on-ana-identity": "REFUSED(NotAuthorizedException)",
        "flows-classic-on-classic-visitor-on-member-identity": "REFUSED(NotAuthorizedException)"}
    assert {c.id: (str(c.expected), c.expected.rule) for c in sessions.session_cells(found)} == {
        "flows-classic-on-classic=Admin-member-DurationSeconds=7200": ("ISSUED(Admin)", "C5"),
        "flows-classic-on-classic=Admin-member-DurationSeconds=7201":
            ("REFUSED(ValidationError)", "C7"),
        "flows-classic-on-classic=Admin-member-DurationSeconds=899":
            ("REFUSED(ValidationError)", "C8"),
        "flows-classic-on-classic=Admin-member-DurationSeconds=43201":
            ("REFUSED(ValidationError)", "C8")}


def test_scenario_probes_narrow_access_cells_and_reject_unknown_names() -> None:
    found = scenario.load_all(ROOT / "scenarios", ["near-miss-rules"])
    cells = matrix.access_cells(found)
    assert cells and {c.probe.action for c in cells} == {"GetItem"}
    broken = found[0].model_copy(update={"probes": ["Teleport"]})
    with pytest.raises(ScenarioError, match="Teleport"):
        matrix.access_cells([broken])


def test_misigned_tokens_carry_the_algorithm_and_key_they_claim() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode({"sub": "u", "exp": 2**31}, key, algorithm="RS256", headers={"kid": "k"})
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    assert jwt.get_unverified_header(tokens.misigned(token, "alg-none", pem))["alg"] == "none"
    hs = tokens.misigned(token, "hs256", pem)
    assert jwt.get_unverified_header(hs)["alg"] == "HS256"
    head, body, mac = hs.split(".")
    expected = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4)) == expected
    with pytest.raises(jwt.InvalidAlgorithmError):  # a faithful verifier allows RS256 only
        jwt.decode(hs, key.public_key(), algorithms=["RS256"])
    embedded = jwt.get_unverified_header(tokens.misigned(token, "embedded-jwk", pem))
    assert embedded["alg"] == "RS256" and "jwk" in embedded and embedded["kid"] == "k"


def test_mutation_tool_reads_cosmic_ray_dumps_and_scores_judged_mutants() -> None:
    item = {"mutations": [{"module_path": "m.py", "operator_name": "core/X", "occurrence": 1,
                           "start_pos": [7, 1], "definition_name": "f"}]}
    killed = mutation_score.mutant_of([item, {"test_outcome": "killed", "worker_outcome": "normal"}])
    survived = mutation_score.mutant_of([item, {"test_outcome": "survived",
                                               "worker_outcome": "normal"}])
    pending = mutation_score.mutant_of([item, None])
    crashed = mutation_score.mutant_of([item, {"test_outcome": None, "worker_outcome": "exception"}])
    assert (killed.outcome, survived.outcome, pending.outcome, crashed.outcome) == (
        "killed", "survived", "pending", "incompetent")
    assert mutation_score.score([killed, survived, pending, crashed]) == 0.5
    config = mutation_tool.config_text("m.py", ["books"], 60.0)
    assert 'module-path = "m.py"' in config and "--scenario books" in config and " -x " in config


def test_mutation_tool_sample_is_an_estimate_weighed_by_module_size() -> None:
    def mutant(module: str, outcome: str) -> mutation_score.Mutant:
        return mutation_score.Mutant(module, 1, "core/X", 0, "f", outcome)

    item = {"mutations": [{"module_path": "m.py", "operator_name": "core/X", "occurrence": 1,
                           "start_pos": [7, 1], "definition_name": "f"}]}
    left_out = mutation_score.mutant_of([item, {"worker_outcome": "skipped",
                                               "output": mutation_score.NOT_SAMPLED}])
    annotation = mutation_score.mutant_of([item, {"worker_outcome": "skipped",
                                                 "output": "in a type annotation"}])
    assert (left_out.outcome, annotation.outcome) == ("not-sampled", "equivalent-annotation")
    # a.py: 30 mutants, 2 sampled, both killed; b.py: 10 mutants, 2 sampled, 1 killed
    mutants = ([mutant("a.py", "killed")] * 2 + [mutant("a.py", "not-sampled")] * 28
               + [mutant("b.py", "killed"), mutant("b.py", "survived")]
               + [mutant("b.py", "not-sampled")] * 8)
    found = mutation_score.estimate(mutants)
    assert found is not None
    assert found["score"] == pytest.approx(0.75 * 1.0 + 0.25 * 0.5)  # not the raw 3/4
    assert 0 < found["standard_error"] < 0.25
    assert mutation_score.estimate([mutant("a.py", "killed")]) is None  # whole run: exact


FAULT_HOOKS = '''\
def decide(a, b, faults):
    if a == b and faults.on("x"):
        return 1
    if faults.on("y") or a < b:
        return 2
    leeway = 600 if faults.on("z") else 0
    return _only_for_faults(a) if faults.on("w") else a - leeway


def _only_for_faults(a):
    return a + 1
'''


def test_mutation_tool_skips_only_code_that_runs_with_a_fault_on() -> None:
    spans = mutation_spans.fault_only_spans(FAULT_HOOKS)

    def skipped(start: tuple[int, int], end: tuple[int, int]) -> bool:
        return mutation_spans.within_spans(start, end, spans)

    assert skipped((2, 9), (2, 10))  # `==` in an `and` that is False with no fault on
    assert not skipped((2, 14), (2, 17))  # that `and` itself: as `or` it decides
    assert not skipped((2, 7), (2, 32))  # `not` around the whole test (AddNot)
    assert skipped((3, 15), (3, 16))  # the body of that `if`
    assert not skipped((4, 27), (4, 28)) and not skipped((5, 15), (5, 16))  # `or`: a < b decides
    assert skipped((6, 13), (6, 16)) and not skipped((6, 40), (6, 41))  # 600 dead, 0 live
    assert not skipped((7, 56), (7, 57))  # `a - leeway` runs without faults
    assert skipped((11, 13), (11, 14))  # a helper only a fault branch calls


def test_mutation_tool_sample_is_the_same_for_the_same_seed_whatever_the_job_ids() -> None:
    def items(ids: list[str]) -> list[SimpleNamespace]:
        mutations = [SimpleNamespace(module_path="m.py", start_pos=(line, 0), end_pos=(line, 1),
                                     operator_name="core/X", occurrence=0) for line in range(20)]
        return [SimpleNamespace(job_id=job, mutations=[mutation])
                for job, mutation in zip(ids, mutations, strict=True)]

    def lines(chosen: set[str], work: list[SimpleNamespace]) -> set[int]:
        return {item.mutations[0].start_pos[0] for item in work if item.job_id in chosen}

    first = items([f"a{n:02}" for n in range(20)])
    second = items([f"z{19 - n:02}" for n in range(20)])  # a fresh init: other uuids
    one = mutation_tool.sampled_ids(first, 5, random.Random("26:m.py"))
    two = mutation_tool.sampled_ids(list(reversed(second)), 5, random.Random("26:m.py"))
    assert len(one) == 5 and lines(one, first) == lines(two, second)


def test_mutation_tool_rerun_rejudges_only_the_survivors() -> None:
    def mutant(occurrence: int, outcome: str) -> mutation_score.Mutant:
        return mutation_score.Mutant("m.py", occurrence, "core/X", occurrence, "f", outcome)

    before = [mutant(0, "killed"), mutant(1, "survived"), mutant(2, "survived"),
              mutant(3, "not-sampled")]
    assert mutation_score.survivors_of(before) == {"m.py": frozenset({("core/X", 1),
                                                                     ("core/X", 2)})}
    again = [mutant(0, "not-sampled"), mutant(1, "killed"), mutant(2, "survived"),
             mutant(3, "not-sampled")]
    after = mutation_score.rejudged(before, again)
    assert [m.outcome for m in after] == ["killed", "killed", "survived", "not-sampled"]


def test_mutation_tool_add_not_before_a_fault_checked_and_is_equivalent() -> None:
    source = ('if a == b and faults.on("x"):\n    pass\n'
              'if faults.on("y") and a == b:\n    pass\n')
    # cosmic-ray's AddNot gives `not a == b and faults.on("x")`: still False, equivalent;
    # `not faults.on("y") and a == b` is `a == b`: live
    assert mutation_spans.add_not_spans(source) == [(1, 3, 1, 28)]


def test_mutation_tool_rerun_refuses_a_module_changed_since_its_report(tmp_path: Path) -> None:
    module = "rolecall/emulator/iam/patterns.py"
    report = tmp_path / "mutation-tool.json"

    def recorded(content: dict[str, Any]) -> dict[str, str]:
        report.write_text(json.dumps({"mutants": [], **content}))
        return mutation_score.read_report(report)[1]

    hashes = {"module_sha256": {module: mutation_tool.module_hash(module)}}
    assert mutation_tool.changed_since(recorded(hashes), [module]) == []
    assert mutation_tool.changed_since(recorded({"module_sha256": {module: "0" * 64}}),
                                       [module]) == [module]
    # a report from before module hashes
    assert mutation_tool.changed_since(recorded({}), [module]) == [module]


def test_mutation_tool_stops_its_cosmic_ray_run_when_interrupted(tmp_path: Path) -> None:
    """Ctrl-C / SIGTERM set STOP: the running exec (and what it started) is stopped within
    seconds, so the scratch copies can be removed and the partial report written."""
    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    stopper = threading.Timer(0.5, mutation_tool.STOP.set)
    started = time.monotonic()
    stopper.start()
    try:
        mutation_tool._exec_until(started + 120, command, tmp_path, dict(os.environ))
    finally:
        mutation_tool.STOP.clear()
    assert time.monotonic() - started < 10
