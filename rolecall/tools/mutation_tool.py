"""`tox -e mutation-tool`: an off-the-shelf mutation tool's opinion of the suite (issue 13).

rolecall's own faults (`rolecall mutation`) were written beside the scenarios
that kill them. This runs cosmic-ray (PyPI; works with Python 3.11 and this
layout) over the emulator's decision code instead: every comparison, boolean
operator, constant and branch it can flip, one at a time, with the conformance
suite as the test command. A mutant the suite does not notice is listed in
reports/mutation-tool.md; each is classified by hand in docs/mutation-tool/survivors.yaml
(docs/mutation-survivors.md shows them), and the tool prints and writes the score both
raw and net of the survivors classified equivalent (rolecall/tools/mutation_report.py).

cosmic-ray edits the module on disk for each mutant, so the run works on a copy
of the tracked files in a scratch directory, never on the checkout. The suite is
scoped (`--scenario`, default: the scenarios that exercise these modules most
cheaply) and stops at its first failure (-x), so a killed mutant costs one
emulator start, one provisioning and the cells up to the first red one.

    python -m rolecall.tools.mutation_tool [--module PATH ...] [--scenario NAME ...]
        [--budget-minutes N] [--jobs 2] [--sample K --seed S] [--rerun REPORT]
        [--report-dir reports] [--classes docs/mutation-tool/survivors.yaml]
    python -m rolecall.tools.mutation_tool --score REPORT [--score REPORT ...]

The whole run is many hours on 2 cores (one suite run per mutant). `--sample K` runs
a seeded uniform sample of K mutants per module instead (the rest stay `not-sampled`):
each module's score is then an estimate with its sampling error, and the overall
score weighs modules by their mutant counts (a stratified estimate). `--jobs` runs
modules side by side, each in its own scratch copy (cosmic-ray edits files on disk).
`--rerun REPORT` judges only the survivors of an earlier report again, after cells were
added for them, and writes that report with their new outcomes. `--score REPORT` runs
nothing: it scores a report the tool wrote (or several of one tree, as one sample) with
today's classifications, into <report-dir>/mutation-score.{json,md}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
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
from pathlib import Path
from typing import Any

from rolecall.model.errors import ScenarioError
from rolecall.tools.mutation_classes import CLASSES, Classifications, judge, load
from rolecall.tools.mutation_report import Scorecard, write_reports
from rolecall.tools.mutation_score import (
    ANNOTATION,
    FAULT_HOOK,
    NOT_SAMPLED,
    Mutant,
    Run,
    combined,
    mutant_of,
    read_report,
    read_run,
    rejudged,
    survivors_of,
)
from rolecall.tools.mutation_spans import (
    add_not_spans,
    annotation_spans,
    fault_only_spans,
    in_spans,
    within_spans,
)

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


def module_hash(module: str) -> str:
    return hashlib.sha256((ROOT / module).read_bytes()).hexdigest()


def changed_since(recorded: dict[str, str], modules: list[str]) -> list[str]:
    """The modules whose source differs from the hashes a report recorded (cosmic-ray
    numbers mutants by position in the source, so an edit renames them)."""
    return [module for module in modules if recorded.get(module) != module_hash(module)]


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
    parser.add_argument("--score", type=Path, action="append", default=[], metavar="REPORT",
                        help="run nothing: score a report the tool wrote (repeat to combine "
                             "reports of one tree), raw and net of classified equivalents; "
                             "writes <report-dir>/mutation-score.{json,md}")
    parser.add_argument("--classes", type=Path, default=CLASSES, metavar="YAML",
                        help="the classified survivors (default docs/mutation-tool/survivors.yaml)")
    args = parser.parse_args(argv)
    if args.score and (args.rerun or args.sample is not None or args.module):
        parser.error("--score runs nothing: give it without --rerun, --sample or --module")
    try:  # a bad classifications file fails now, not after hours of mutants
        classes = load(args.classes)
        if args.score:
            return score_reports(args.score, classes, args.classes, args.report_dir)
    except ScenarioError as exc:
        parser.exit(2, f"error: {exc}\n")
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
    run = Run.of(mutants, scenarios, time.monotonic() - start, hashes, STOP.is_set())
    try:
        card = Scorecard(run, judge(run, classes, args.classes), args.classes)
    except ScenarioError as exc:  # hours of mutants are kept: the report applies no class
        print(f"error: {exc}\nthe figures below apply no classification", file=sys.stderr)
        card = Scorecard(run, judge(run, Classifications(modules=[])), args.classes)
    write_reports(args.report_dir, card)
    print("\n".join(card.lines()) + f"\nreports in {args.report_dir}")
    rate = card.raw()
    if STOP.is_set():
        print("INTERRUPTED: a partial result; the mutants not judged are pending", file=sys.stderr)
        return 130
    return 1 if rate is not None and rate < args.min_score else 0


def score_reports(paths: list[Path], classes: Classifications, classes_file: Path,
                  report_dir: Path) -> int:
    """`--score`: the figures of kept reports, raw and net, printed and written to
    <report_dir>/mutation-score.{json,md}; no mutant is run."""
    run = combined([read_run(path) for path in paths])
    card = Scorecard(run, judge(run, classes, classes_file), classes_file)
    write_reports(report_dir, card, name="mutation-score")
    print("\n".join(card.lines()))
    return 130 if run.interrupted else 0


if __name__ == "__main__":
    raise SystemExit(main())
