"""`tox -e mutation-tool`: an off-the-shelf mutation tool's opinion of the suite (issue 13).

rolecall's own faults (`rolecall mutation`) were written beside the scenarios
that kill them. This runs cosmic-ray (PyPI; works with Python 3.11 and this
layout) over the emulator's decision code instead: every comparison, boolean
operator, constant and branch it can flip, one at a time, with the conformance
suite as the test command. A mutant the suite does not notice is listed in
reports/mutation-tool.md; each is classified by hand in docs/mutation-survivors.md.

cosmic-ray edits the module on disk for each mutant, so the run works on a copy
of the tracked files in a scratch directory, never on the checkout. The suite is
scoped (`--scenario`, default: the scenarios that exercise these modules most
cheaply) and stops at its first failure (-x), so a killed mutant costs one
emulator start, one provisioning and the cells up to the first red one.

    python -m rolecall.tools.mutation_tool [--module PATH ...] [--scenario NAME ...]
        [--budget-minutes N] [--jobs 2] [--sample K --seed S] [--rerun REPORT]
        [--report-dir reports]

The whole run is many hours on 2 cores (one suite run per mutant). `--sample K` runs
a seeded uniform sample of K mutants per module instead (the rest stay `not-sampled`):
each module's score is then an estimate with its sampling error, and the overall
score weighs modules by their mutant counts (a stratified estimate). `--jobs` runs
modules side by side, each in its own scratch copy (cosmic-ray edits files on disk).
`--rerun REPORT` judges only the survivors of an earlier report again, after cells were
added for them, and writes that report with their new outcomes.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import math
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

DECISION_MODULES = (
    "rolecall/emulator/iam/patterns.py",
    "rolecall/emulator/iam/conditions.py",
    "rolecall/emulator/iam/policy.py",
    "rolecall/emulator/cognitoidentity/mapping.py",
    "rolecall/emulator/cognitoidentity/logins.py",
    "rolecall/emulator/cognitoidentity/trust.py",
    "rolecall/emulator/cognitoidp/claims.py",
)
# Cheap scenarios that between them reach every decision above (policy evaluation,
# conditions and variables, rules and token mapping, precedence, tokens, trust).
DEFAULT_SCENARIOS = ("near-miss-policy", "near-miss-precedence", "near-miss-rules",
                     "per-identity", "precedence", "rules", "seed-rules", "tokens",
                     "token-expiry", "flows")
COPY_IGNORE = shutil.ignore_patterns(".git", "reports", ".venv", ".tox", "node_modules",
                                     "__pycache__", "*.pyc", "mutants", ".mypy_cache",
                                     ".ruff_cache")


@dataclass(frozen=True)
class Mutant:
    module: str
    line: int
    operator: str
    occurrence: int
    function: str
    outcome: str  # killed | survived | incompetent | equivalent-annotation
    #               | equivalent-fault-hook | not-sampled | pending

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def config_text(module: str, scenarios: list[str], timeout_s: float) -> str:
    """A cosmic-ray config: one module, the scoped conformance suite as the test command."""
    selected = " ".join(f"--scenario {name}" for name in scenarios)
    command = (f"{sys.executable} -m pytest suites -q -x -p no:cacheprovider -n 0 "
               f"--cheapest-first {selected}")
    return (f'[cosmic-ray]\nmodule-path = "{module}"\ntimeout = {timeout_s}\n'
            f'excluded-modules = []\ntest-command = "{command}"\n\n'
            '[cosmic-ray.distributor]\nname = "local"\n')


def run_module(workdir: Path, module: str, scenarios: list[str], timeout_s: float,
               deadline: float, sample: int | None = None, seed: int = 0,
               only: frozenset[tuple[str, int]] | None = None) -> list[Mutant]:
    """init + exec (until done or the deadline) + dump, for one module; with `sample`,
    only that many of its mutants (seeded, uniform), the rest marked not-sampled; with
    `only`, just the mutants it names as (operator, occurrence)."""
    name = Path(module).stem
    config, session = workdir / f"cr-{name}.toml", workdir / f"cr-{name}.sqlite"
    config.write_text(config_text(module, scenarios, timeout_s))
    env = {**os.environ, "PYTHONPATH": str(workdir), "PYTHONDONTWRITEBYTECODE": "1"}
    tool = Path(sys.executable).parent / "cosmic-ray"
    subprocess.run([str(tool), "init", str(config), str(session)], cwd=workdir, env=env,
                   check=True, capture_output=True)
    skip_equivalent_mutants(session, workdir / module)
    if only is not None:
        keep_only(session, only)
    elif sample is not None:
        keep_a_sample(session, sample, random.Random(f"{seed}:{module}"))
    remaining = deadline - time.monotonic()
    if remaining > 0 and not STOP.is_set():
        _exec_until(deadline, [str(tool), "exec", str(config), str(session)], workdir, env)
    dump = subprocess.run([str(tool), "dump", str(session)], cwd=workdir, env=env, check=True,
                          capture_output=True, text=True).stdout
    _restore(workdir, module)  # a run stopped mid-mutant may leave the module mutated
    return [mutant_of(json.loads(line)) for line in dump.splitlines() if line.strip()]


Span = tuple[int, int, int, int]  # (line, col, end line, end col), as ast and cosmic-ray count


def _span(node: ast.expr | ast.stmt) -> Span:
    return (node.lineno, node.col_offset, node.end_lineno or node.lineno, node.end_col_offset or 0)


def annotation_spans(source: str) -> list[Span]:
    """The span of every type annotation: code that never runs.

    The modules use `from __future__ import annotations`, so `str | None` in a
    signature is a string at run time; a mutant there (`str >> None`) is equivalent
    by construction and would only cost a suite run to prove it.
    """
    spans: list[Span] = []
    for node in ast.walk(ast.parse(source)):
        found: list[ast.expr | None] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            found += [a.annotation for a in (*arguments.posonlyargs, *arguments.args,
                                             *arguments.kwonlyargs, arguments.vararg,
                                             arguments.kwarg) if a is not None]
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
        spans += [_span(n) for n in found if n is not None]
    return spans


def _is_fault_check(node: ast.AST) -> bool:
    """`faults.on("name")`: False on the faithful target, where no fault is on."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "on" and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "faults")


def _never_true(test: ast.AST) -> bool:
    """A condition that is False whenever no fault is on: a fault check, an `and` with
    one such operand, or an `or` of nothing but such operands."""
    if _is_fault_check(test):
        return True
    if isinstance(test, ast.BoolOp):
        found = [_never_true(value) for value in test.values]
        return any(found) if isinstance(test.op, ast.And) else all(found)
    return False


def fault_only_spans(source: str) -> list[Span]:
    """Code that runs, or whose value counts, only when an emulator fault is on.

    The fault hooks (rolecall/emulator/faults.py) sit inside the decision code:
    `if faults.on("x"): ...`, `a == b and faults.on("x")`. With every fault off,
    which is the target the suite judges, such a branch never runs and such an
    operand never decides anything, so a mutant there is equivalent by construction.
    The spans are: the body of an `if`/ternary whose test is never true, the operands
    of an `and` that is never true (not the `and` itself: turning it into `or` is a
    live mutant), and private functions called only from those places. A mutant is
    skipped only if it lies wholly inside one span, so `not` added to the whole test
    (cosmic-ray's AddNot spans the test) still runs.
    """
    tree = ast.parse(source)
    spans: list[Span] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If | ast.IfExp) and _never_true(node.test):
            body = node.body if isinstance(node.body, list) else [node.body]
            spans += [_span(statement) for statement in body]
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And) and _never_true(node):
            spans += [_span(value) for value in node.values]
    return spans + _called_only_from(tree, spans)


def add_not_spans(source: str) -> list[Span]:
    """Tests where cosmic-ray's AddNot is equivalent by construction.

    AddNot writes `not` before the test without parentheses, so on `a and faults.on("x")`
    it gives `not a and faults.on("x")`: the `not` binds to the first operand only, and a
    later fault check keeps the whole test False with every fault off. These are the
    spans of such tests (an `and` with a never-true operand after its first).
    """
    spans: list[Span] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If | ast.IfExp | ast.While | ast.Assert):
            test = node.test
            if (isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And)
                    and any(_never_true(value) for value in test.values[1:])):
                spans.append(_span(test))
    return spans


def _called_only_from(tree: ast.Module, spans: list[Span]) -> list[Span]:
    """Private module functions whose every use is a call inside `spans` (to a fixpoint)."""
    functions = {node.name: node for node in tree.body
                 if isinstance(node, ast.FunctionDef) and node.name.startswith("_")}
    uses: dict[str, list[ast.Name]] = {name: [] for name in functions}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in uses:
            uses[node.id].append(node)
    dead: list[Span] = []
    changed = True
    while changed:
        changed = False
        for name, function in functions.items():
            span = _span(function)
            if span in dead or not uses[name]:
                continue
            if all(in_spans((use.lineno, use.col_offset), spans + dead) for use in uses[name]):
                dead.append(span)
                changed = True
    return dead


def within_spans(start: tuple[int, int], end: tuple[int, int], spans: list[Span]) -> bool:
    """The whole of [start, end] inside one span."""
    return any((line, col) <= start and end <= (end_line, end_col)
               for line, col, end_line, end_col in spans)


def in_spans(position: tuple[int, int], spans: list[Span]) -> bool:
    return within_spans(position, position, spans)


ANNOTATION = "in a type annotation"
FAULT_HOOK = "runs only with an emulator fault on"


def _skip(session: Path, reasons: Callable[[list[Any]], dict[str, str]]) -> int:
    """Mark SKIPPED, with its reason, each pending work item that `reasons` names (job id
    -> reason) when given the pending items; cosmic-ray exec then runs only the rest."""
    from cosmic_ray.work_db import use_db  # the tox env has it; the suite does not need it
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(session)) as db:
        chosen = reasons(list(db.pending_work_items))
        for job_id, reason in chosen.items():
            db.set_result(job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=reason))
    return len(chosen)


def skip_equivalent_mutants(session: Path, module: Path) -> int:
    """Skip the mutants that are equivalent by construction: inside a type annotation, or
    inside code only a fault runs."""
    source = module.read_text()
    annotations, hooks = annotation_spans(source), fault_only_spans(source)
    negated_first = add_not_spans(source)

    def reason(item: Any) -> str | None:
        mutation = item.mutations[0]
        start = (int(mutation.start_pos[0]), int(mutation.start_pos[1]))
        end = (int(mutation.end_pos[0]), int(mutation.end_pos[1]))
        add_not = mutation.operator_name == "core/AddNot" and (*start, *end) in negated_first
        return (ANNOTATION if in_spans(start, annotations)
                else FAULT_HOOK if within_spans(start, end, hooks) or add_not else None)

    return _skip(session, lambda pending: {item.job_id: why for item in pending
                                           if (why := reason(item)) is not None})


NOT_SAMPLED = "not in the sample"


def keep_a_sample(session: Path, size: int, rng: random.Random) -> int:
    """Leave `size` pending mutants (chosen by `rng`) and skip the others as not sampled;
    returns how many were left out."""
    def left_out(pending: list[Any]) -> dict[str, str]:
        chosen = sampled_ids(pending, size, rng)
        return {item.job_id: NOT_SAMPLED for item in pending if item.job_id not in chosen}

    return _skip(session, left_out)


def keep_only(session: Path, wanted: frozenset[tuple[str, int]]) -> int:
    """Leave pending only the mutants named as (operator, occurrence); cosmic-ray numbers
    the occurrences of each operator in a module, so the pair names one mutant."""
    def named(item: Any) -> bool:
        mutation = item.mutations[0]
        return (mutation.operator_name, int(mutation.occurrence)) in wanted

    return _skip(session, lambda pending: {item.job_id: NOT_SAMPLED for item in pending
                                           if not named(item)})


def survivors_of(report: list[Mutant]) -> dict[str, frozenset[tuple[str, int]]]:
    """A previous report's survivors, per module, as (operator, occurrence)."""
    found: dict[str, set[tuple[str, int]]] = {}
    for mutant in report:
        if mutant.outcome == "survived":
            found.setdefault(mutant.module, set()).add((mutant.operator, mutant.occurrence))
    return {module: frozenset(pairs) for module, pairs in found.items()}


def rejudged(report: list[Mutant], rerun: list[Mutant]) -> list[Mutant]:
    """The previous report with each survivor replaced by its outcome in the rerun (cells
    added since may kill it); killed, equivalent and not-sampled mutants stay as they were."""
    again = {(m.module, m.operator, m.occurrence): m for m in rerun
             if m.outcome not in ("not-sampled", "pending")}
    return [again.get((m.module, m.operator, m.occurrence), m) if m.outcome == "survived" else m
            for m in report]


def read_report(path: Path) -> tuple[list[Mutant], dict[str, str]]:
    """An earlier report's mutants and the module hashes it recorded (none before hashes)."""
    report = json.loads(path.read_text())
    return [Mutant(**entry) for entry in report["mutants"]], report.get("module_sha256", {})


def sampled_ids(items: list[Any], size: int, rng: random.Random) -> set[str]:
    """The job ids of `size` work items drawn by `rng`. The draw is over the items ordered
    by what they mutate, not by job id: cosmic-ray's job ids are fresh uuids on every
    `init`, so ordering by them would draw a different sample each run of the same seed."""
    def identity(item: Any) -> tuple[Any, ...]:
        mutation = item.mutations[0]
        return (str(mutation.module_path), tuple(mutation.start_pos), tuple(mutation.end_pos),
                mutation.operator_name, mutation.occurrence)

    ordered = sorted(items, key=identity)
    return {item.job_id for item in rng.sample(ordered, min(size, len(ordered)))}


# Set by Ctrl-C or SIGTERM: the run ends as if its budget were spent (the mutants not yet
# judged stay pending), the scratch copies are removed and the report says INTERRUPTED.
STOP = threading.Event()


def _exec_until(deadline: float, command: list[str], workdir: Path, env: dict[str, str]) -> None:
    """Run cosmic-ray exec; at the deadline, or when STOP is set, stop it and the pytest it
    started (its own process group, so a terminal's Ctrl-C reaches only this process)."""
    proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    while proc.poll() is None:
        left = deadline - time.monotonic()
        if STOP.is_set() or left <= 0:  # the rest stays pending
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            return
        try:
            proc.wait(timeout=min(2.0, left))
        except subprocess.TimeoutExpired:
            continue


def _restore(workdir: Path, module: str) -> None:
    shutil.copyfile(ROOT / module, workdir / module)


def mutant_of(entry: list[Any]) -> Mutant:
    """One line of `cosmic-ray dump`: [work item, result or null]."""
    item, result = entry
    mutation = item["mutations"][0]
    outcome = "pending"
    if result is not None:
        worker = result.get("worker_outcome")
        outcome = result.get("test_outcome") or worker or "pending"
        if worker in ("exception", "abnormal"):
            outcome = "incompetent"
        elif worker == "skipped":
            outcome = {NOT_SAMPLED: "not-sampled", FAULT_HOOK: "equivalent-fault-hook"}.get(
                result.get("output"), "equivalent-annotation")
    return Mutant(mutation["module_path"], int(mutation["start_pos"][0]),
                  mutation["operator_name"], int(mutation["occurrence"]),
                  str(mutation.get("definition_name") or ""), str(outcome))


def score(mutants: list[Mutant]) -> float | None:
    """Killed / (killed + survived); incompetent mutants (they crash) and pending ones excluded."""
    counts = Counter(m.outcome for m in mutants)
    judged = counts["killed"] + counts["survived"]
    return counts["killed"] / judged if judged else None


def estimate(mutants: list[Mutant]) -> dict[str, float | None] | None:
    """With a sample: the overall score as a stratified estimate (each module's sampled
    score weighed by its share of the judgeable mutants) and its standard error. Without
    one (nothing not-sampled): None, the score is exact."""
    if not any(m.outcome == "not-sampled" for m in mutants):
        return None
    population = {module: sum(1 for m in mutants if m.module == module
                              and m.outcome in ("killed", "survived", "not-sampled"))
                  for module in {m.module for m in mutants}}
    total = sum(population.values())
    value = variance = 0.0
    for module, size in population.items():
        judged = [m for m in mutants if m.module == module and m.outcome in ("killed", "survived")]
        if not judged or not total:
            continue
        rate = sum(m.outcome == "killed" for m in judged) / len(judged)
        weight = size / total
        value += weight * rate
        finite = (size - len(judged)) / (size - 1) if size > 1 else 0.0  # sampled w/o replacement
        if len(judged) == 1:  # one mutant says nothing about its module's spread
            variance = math.inf
        else:
            variance += weight ** 2 * rate * (1 - rate) / (len(judged) - 1) * finite
    error = None if math.isinf(variance) else math.sqrt(variance)  # None: unknown
    return {"score": value, "standard_error": error, "modules": len(population)}


def _estimated(sampled: dict[str, float | None]) -> str:
    score, error = sampled["score"], sampled["standard_error"]
    spread = "an unknown spread" if error is None else f"+/- {error:.1%} (one standard error)"
    return f"estimated score over the modules {score or 0.0:.1%}, {spread}; modules weighed " \
           "by their mutant counts"


def module_hash(module: str) -> str:
    return hashlib.sha256((ROOT / module).read_bytes()).hexdigest()


def changed_since(recorded: dict[str, str], modules: list[str]) -> list[str]:
    """The modules whose source differs from the hashes a report recorded (cosmic-ray
    numbers mutants by position in the source, so an edit renames them)."""
    return [module for module in modules if recorded.get(module) != module_hash(module)]


def write_reports(report_dir: Path, mutants: list[Mutant], scenarios: list[str],
                  seconds: float, hashes: dict[str, str] | None = None) -> None:
    report_dir.mkdir(parents=True, exist_ok=True)
    counts = Counter(m.outcome for m in mutants)
    rate = score(mutants)
    sampled = estimate(mutants)
    summary = {"tool": "cosmic-ray 8.7.0", "scenarios": scenarios, "seconds": round(seconds),
               "counts": dict(counts), "score": rate, "sample_estimate": sampled,
               "module_sha256": hashes or {}, "interrupted": STOP.is_set(),
               "per_module": {module: dict(Counter(m.outcome for m in mutants
                                                   if m.module == module))
                              for module in sorted({m.module for m in mutants})},
               "mutants": [m.to_json() for m in mutants]}
    (report_dir / "mutation-tool.json").write_text(json.dumps(summary, indent=2))
    lines = ["# cosmic-ray over the emulator's decision code", "",
             f"score {'-' if rate is None else f'{rate:.1%}'} (killed / judged); "
             f"counts {dict(counts)}; {seconds / 60:.0f} min; scenarios {', '.join(scenarios)}",
             *([] if sampled is None else ["", f"A sample, not the whole run: {_estimated(sampled)}."]),
             *(["", "INTERRUPTED: the mutants not judged before the stop are pending; "
                    "this is a partial result."] if STOP.is_set() else []),
             "", "| module | line | function | operator | occurrence |", "|---|---|---|---|---|"]
    lines += [f"| {m.module} | {m.line} | {m.function} | {m.operator} | {m.occurrence} |"
              for m in mutants if m.outcome == "survived"]
    (report_dir / "mutation-tool.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--module", action="append", default=[],
                        help="a module to mutate (repeat; default: the decision modules)")
    parser.add_argument("--scenario", action="append", default=[],
                        help="scope the suite (repeat; default: the cheap covering set)")
    parser.add_argument("--budget-minutes", type=float, default=24 * 60.0,
                        help="stop starting mutants after this long; the rest stay pending")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant")
    parser.add_argument("--report-dir", type=Path, default=ROOT / "reports")
    parser.add_argument("--sample", type=int, default=None, metavar="K",
                        help="run a seeded uniform sample of K mutants per module (an estimate)")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="modules side by side, each in its own scratch copy (default 1)")
    parser.add_argument("--rerun", type=Path, default=None, metavar="REPORT",
                        help="judge again only the survivors of a previous mutation-tool.json "
                             "(after adding cells); the new report is that one, rejudged")
    parser.add_argument("--min-score", type=float, default=0.0,
                        help="exit 1 below this score (0: report only)")
    args = parser.parse_args(argv)
    previous, recorded = read_report(args.rerun) if args.rerun else (None, {})
    survivors = survivors_of(previous) if previous is not None else {}
    if args.rerun:
        changed = changed_since(recorded, sorted(survivors))
        if changed:
            parser.error(f"--rerun {args.rerun}: {', '.join(changed)} changed since that report "
                         "(or it predates module hashes), so its mutants are not the same ones; "
                         "run a fresh --sample instead")
    modules = sorted(survivors) if previous is not None else args.module or list(DECISION_MODULES)
    scenarios = args.scenario or list(DEFAULT_SCENARIOS)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: STOP.set())
    # what the copies hold; in a rerun, the modules not judged again keep the report's
    hashes = {**recorded, **{module: module_hash(module) for module in modules}}
    start = time.monotonic()
    deadline = start + args.budget_minutes * 60
    mutants: list[Mutant] = []
    with tempfile.TemporaryDirectory(prefix="rolecall-cr-") as scratch:
        workdirs = [Path(scratch) / f"src{job}" for job in range(max(1, args.jobs))]
        for workdir in workdirs:
            shutil.copytree(ROOT, workdir, ignore=COPY_IGNORE)

        waiting: queue.SimpleQueue[str] = queue.SimpleQueue()
        for module in modules:
            waiting.put(module)

        def lane(job: int) -> list[Mutant]:
            """The next waiting module, until none is left, in this job's own scratch copy
            (a job that finishes early takes more, so no core idles while modules wait)."""
            found: list[Mutant] = []
            while not waiting.empty() and not STOP.is_set():
                module = waiting.get()
                mine = run_module(workdirs[job], module, scenarios, args.timeout, deadline,
                                  args.sample, args.seed, survivors.get(module))
                print(f"{module}: {dict(Counter(m.outcome for m in mine))}", flush=True)
                found += mine
            return found

        with ThreadPoolExecutor(max_workers=len(workdirs)) as pool:
            for found in pool.map(lane, range(len(workdirs))):
                mutants += found
    if previous is not None:
        mutants = rejudged(previous, mutants)
    elapsed = time.monotonic() - start
    write_reports(args.report_dir, mutants, scenarios, elapsed, hashes)
    rate = score(mutants)
    sampled = estimate(mutants)
    print(f"score {'-' if rate is None else f'{rate:.1%}'}"
          + ("" if sampled is None else f" (a sample: {_estimated(sampled)})")
          + f"; reports in {args.report_dir}")
    if STOP.is_set():
        print("INTERRUPTED: a partial result; the mutants not judged are pending", file=sys.stderr)
        return 130
    return 1 if rate is not None and rate < args.min_score else 0


if __name__ == "__main__":
    raise SystemExit(main())
