"""pytest wiring for the conformance matrix: options, the run, and the cells.

Kept beside the suites (not at the repository root) so the project's own tests
never start the conformance machinery. The controlling process starts the target
and tears every stack down at the end; pytest-xdist workers attach to the same run.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any

import pytest

from rolecall.account import cleanup, clients, own_stack
from rolecall.account.probes import PROBES
from rolecall.account.run import Run, RunConfig
from rolecall.cells import control, escalation, matrix
from rolecall.cells.audit import audit_cells
from rolecall.cells.audit_facts import DEFAULT_FAIL_ON, SEVERITIES
from rolecall.cells.identity import binding_cells, identity_cells
from rolecall.cells.sessions import session_cells
from rolecall.emulator import Emulator
from rolecall.model import oracle, scenario
from rolecall.model.errors import ScenarioError
from rolecall.reporting import allure_run, evidence, plugin
from rolecall.reporting.records import Observer
from rolecall.reporting.redact import redact_text

ROOT = Path(__file__).resolve().parent.parent
RUN_KEY = pytest.StashKey[RunConfig]()
EMULATOR_KEY = pytest.StashKey[Any]()
SCENARIOS_KEY = pytest.StashKey[list[scenario.Scenario]]()
SESSION_KEY = pytest.StashKey[pytest.Session]()
RUNNER_ACTIONS = "runner-actions.json"
SIGNAL_KEY = pytest.StashKey[str]()  # the signal that arrived (its KeyboardInterrupt may be lost)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rolecall", "rolecall conformance run")
    group.addoption("--target", choices=["emulated", "aws"], default="emulated",
                    help="emulated (default): the embedded endpoint; aws: a real account")
    group.addoption("--scenario", action="append", default=[],
                    help="run only this scenario (repeatable); default: all")
    group.addoption("--scenario-dir", default=str(ROOT / "scenarios"),
                    help="folder of scenario YAML files")
    group.addoption("--aws-account-id", default=None,
                    help="with --target aws: the account the suite may use (checked)")
    group.addoption("--region", default=None, help="with --target aws: overrides AWS config")
    group.addoption("--endpoint-url", default=None,
                    help="send every call here: a running `rolecall emulator` (default target) "
                         "or, with --target aws, any endpoint that speaks AWS")
    group.addoption("--stack", default=None,
                    help="test this deployed CloudFormation stack (not scenarios/)")
    group.addoption("--identity-pool-id", default=None,
                    help="test the stack around this identity pool (Terraform, console ...)")
    group.addoption("--entitlements", default=None,
                    help="with --stack / --identity-pool-id: the personas' entitlements YAML")
    group.addoption("--stack-template", default=None,
                    help="deploy this template (cdk synth output) into the embedded target first")
    group.addoption("--emulator-fault", action="append", default=[],
                    help="start the embedded target with this fault (mutation runs)")
    group.addoption("--cheapest-first", action="store_true",
                    help="run the cheapest kinds of cell first (mutation runs with --maxfail: "
                         "most faults then fail within seconds)")
    group.addoption("--evidence-dir", default=str(ROOT / "reports"),
                    help="where the evidence bundle goes (reports/<runid>/)")
    group.addoption("--keep-state", action="store_true",
                    help="keep the run's working state in reports/<runid>/state/ (debugging); "
                         "by default it is removed at the end")
    group.addoption("--realism", default="none",
                    help="start the embedded target with AWS's operating conditions: aws, or parts "
                         "(propagation,throttling,tables,latency); with --target aws it needs "
                         "--endpoint-url embedded")
    group.addoption("--realism-scale", type=float, default=1.0,
                    help="multiply the embedded target's realism delays (CI: 0.05)")
    group.addoption("--runner-policy", default=None,
                    help="bind the embedded target's long-term keys to this policy file "
                         "(policies/runner-matrix.json): the runner's own permissions are checked")
    group.addoption("--propagation-seconds", type=float, default=None,
                    help="with --target aws: how long after its last IAM change a stack's refusals "
                         f"may be IAM propagating (default {clients.AWS_PROPAGATION_SECONDS:g}; "
                         "with --endpoint-url embedded: the embedded target's own window)")
    group.addoption("--retry-budget", type=float, default=60.0,
                    help="seconds one AWS call may spend waiting out throttling before ERROR")
    group.addoption("--audit-fail-on", choices=SEVERITIES, default=DEFAULT_FAIL_ON,
                    help="the least severe open audit finding that fails its cell (default "
                         f"{DEFAULT_FAIL_ON}: every open finding, as `rolecall audit --fail-on`); "
                         "findings below it are reported in the terminal and the evidence")


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _own_stack(config: pytest.Config) -> own_stack.OwnStack:
    return own_stack.OwnStack(config.getoption("--stack"), config.getoption("--identity-pool-id"),
                              config.getoption("--entitlements"),
                              config.getoption("--stack-template"))


def pytest_configure(config: pytest.Config) -> None:
    # The matrix has no Hypothesis tests, but Hypothesis's pytest plugin imports (and pytest
    # assertion-rewrites) the whole of Hypothesis at the terminal summary: 2-5 s of every
    # run, paid again by each mutation run.
    config.pluginmanager.set_blocked("hypothesispytest")
    own = _own_stack(config)
    try:
        own.check(needs_entitlements=own.wanted)
        scenarios = [] if own.wanted else scenario.load_all(config.getoption("--scenario-dir"),
                                                            config.getoption("--scenario"))
        for each in scenarios:
            oracle.check(each)
    except ScenarioError as exc:
        # Exit 2, as `rolecall audit` does for the same file: the run could not start.
        pytest.exit(f"scenario error: {exc}", returncode=2)
    config.stash[SCENARIOS_KEY] = scenarios
    if _is_worker(config):
        config.stash[RUN_KEY] = RunConfig.from_json(config.workerinput["rolecall"])  # type: ignore[attr-defined]
        bound = own_stack.load_bound(Path(config.stash[RUN_KEY].state_dir))
        config.stash[SCENARIOS_KEY] = [bound] if bound else scenarios
        _report_cells(config)
        return
    _interrupt_on_signals(config)
    config.stash[RUN_KEY] = RunConfig.create(_start_target(config),
                                             Path(config.getoption("--evidence-dir")))
    _report_cells(config)
    if own.wanted:
        config.stash[SCENARIOS_KEY] = [_start_own_stack(config, own)]


def _interrupt_on_signals(config: pytest.Config) -> None:
    """SIGINT and SIGTERM (CI cancelling a job) unwind like Ctrl-C, so teardown still runs,
    and the evidence says which signal cut the run short.

    Installed before the target starts: a signal while the emulator starts or the team's
    stack is provisioned is noted once the reporting plugin exists (`_report_cells`).
    """
    def interrupt(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        config.stash[SIGNAL_KEY] = name
        reporting = config.pluginmanager.get_plugin("rolecall-reporting")
        if isinstance(reporting, plugin.CellReporting):
            reporting.note_signal(name)
        raise KeyboardInterrupt(f"interrupted by {name}")

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, interrupt)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Stop at the next cell when a signal's KeyboardInterrupt was lost.

    Python runs a signal handler between any two bytecodes, also inside a garbage
    collector's finalizer, where an exception is printed and dropped ("Exception
    ignored in ..."): Ctrl-C or CI's SIGTERM would then be ignored and the run go on
    to exit 0. Each cell's end checks, so a lost interrupt still ends the run.
    """
    result = yield
    if SIGNAL_KEY in item.config.stash:
        raise KeyboardInterrupt(f"interrupted by {item.config.stash[SIGNAL_KEY]}")
    return result


def _start_own_stack(config: pytest.Config, own: own_stack.OwnStack) -> scenario.Scenario:
    """Discover the team's stack, bind the entitlements, create the personas' users.

    Everything is read and checked before the first user is created; a bad input
    stops the run (exit 2) with nothing created.
    """
    run = Run(config.stash[RUN_KEY])
    try:
        discovery = own_stack.read(run.target, own, run.config.runid)
        assert own.entitlements is not None
        bound, entitlements = own_stack.bind(discovery, own.entitlements)
        own_stack.start(run.target, discovery, bound, entitlements, run.secrets, run.state_dir)
    except ScenarioError as exc:
        _stop_target(config)
        raise pytest.UsageError(f"stack error: {exc}") from None
    return bound


def _start_target(config: pytest.Config) -> clients.Target:
    if config.getoption("--target") == "emulated" and config.getoption("--endpoint-url"):
        return clients.emulated(config.getoption("--endpoint-url"))  # a running emulator
    if config.getoption("--target") == "aws":
        endpoint = config.getoption("--endpoint-url")
        propagation = config.getoption("--propagation-seconds")
        if endpoint == "embedded":  # the real-account path against an in-process endpoint
            emulator = _start_emulator(config)
            endpoint = emulator.endpoint
            if propagation is None:  # poll through the endpoint's own (scaled) window, not AWS's
                propagation = emulator.state.realism.propagation_bound()
        try:
            return clients.aws(config.getoption("--aws-account-id"), config.getoption("--region"),
                               endpoint, clients.AWS_PROPAGATION_SECONDS if propagation is None
                               else propagation, config.getoption("--retry-budget"))
        except clients.TargetError as exc:
            raise pytest.UsageError(f"target error: {exc}") from None
    return clients.emulated(_start_emulator(config).endpoint)


def _start_emulator(config: pytest.Config) -> Emulator:
    try:
        emulator = Emulator(port=0, faults=config.getoption("--emulator-fault"),
                            realism=config.getoption("--realism"),
                            realism_scale=config.getoption("--realism-scale"),
                            runner_policy=config.getoption("--runner-policy")).start()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[EMULATOR_KEY] = emulator
    return emulator


def _stop_target(config: pytest.Config) -> None:
    emulator = config.stash.get(EMULATOR_KEY, None)
    if emulator is not None:
        emulator.stop()
        del config.stash[EMULATOR_KEY]


def _report_cells(config: pytest.Config) -> plugin.CellReporting:
    """Labels, redacted reports, one record per cell and the run's completeness
    (rolecall/reporting/plugin.py)."""
    worker = config.workerinput["workerid"] if _is_worker(config) else "main"  # type: ignore[attr-defined]
    reporting = plugin.CellReporting(Path(config.stash[RUN_KEY].state_dir), worker,
                                     _selection(config))
    config.pluginmanager.register(reporting, "rolecall-reporting")
    if SIGNAL_KEY in config.stash:  # a signal arrived while the target was starting
        reporting.note_signal(config.stash[SIGNAL_KEY])
    return reporting


def _selection(config: pytest.Config) -> list[str]:
    """How this run narrows the suite on purpose: scenarios, paths, -k, -m, --deselect.

    Deselection by -k/-m/--deselect/--lf is also counted from collection; a scenario or
    a path narrows the run before collection, so only the options can say it.
    """
    chosen = [f"--scenario {name}" for name in config.getoption("--scenario")]
    suites = Path(__file__).resolve().parent
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if "::" in arg or (path != suites and not suites.is_relative_to(path)):
            chosen.append(arg)
    for option, flag in (("keyword", "-k"), ("markexpr", "-m")):
        if getattr(config.option, option, None):
            chosen.append(f"{flag} {getattr(config.option, option)!r}")
    chosen += [f"--deselect {node}" for node in getattr(config.option, "deselect", None) or []]
    return chosen


@pytest.fixture
def observe(request: pytest.FixtureRequest) -> Observer:
    """The cell's observer: the test body hands it what it saw (rolecall/reporting/records.py)."""
    return plugin.observer_for(request.node)


def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: hand the run to each worker, in memory."""
    node.workerinput["rolecall"] = node.config.stash[RUN_KEY].to_json()


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[SESSION_KEY] = session  # teardown's outcome decides the exit status too


def pytest_unconfigure(config: pytest.Config) -> None:
    if _is_worker(config) or RUN_KEY not in config.stash:
        return
    # Another Ctrl-C (or CI's SIGTERM) now would leave resources, the bundle or the state
    # behind: the end of the run says it is finishing instead (rolecall/account/cleanup.py).
    with cleanup.shielded("rolecall: finishing the run (teardown, evidence bundle); "
                          "it will not be interrupted, wait for it to end"):
        _finish(config, Run(config.stash[RUN_KEY]))


def _finish(config: pytest.Config, run: Run) -> None:
    """Tear down, write the evidence bundle, remove the run's state."""
    emulator = config.stash.get(EMULATOR_KEY, None)
    # A mutation run's faulted emulator lives in this process and ends with it: tearing its
    # stacks down call by call would take seconds and prove nothing about the target.
    discard = emulator is not None and bool(config.getoption("--emulator-fault"))
    failures = [] if discard else run.teardown_all()  # shields itself from Ctrl-C / SIGTERM
    if emulator is not None:
        _record_runner_actions(config, emulator)
        if emulator.state.realism.parts:  # the conditions were met, not just switched on
            print(f"\nrolecall: AWS's conditions ({emulator.state.realism.describe()}) met "
                  f"this run: {emulator.state.realism.summary()}")
        emulator.stop()
    _write_evidence(config, run)
    kept = run.clean_state(keep=config.getoption("--keep-state"), forget_journals=discard)
    if failures:
        # A run that leaves resources behind is not green, whatever its cells said (a
        # permission the runner lacks for a delete is named in the failure).
        session = config.stash.get(SESSION_KEY, None)
        if session is not None and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\nrolecall: teardown left {len(failures)} resource(s) behind: "
              f"{redact_text('; '.join(failures))}\ntheir journal is kept in {kept}; "
              "`rolecall sweep --aws-account-id <account> "
              f"--run {run.config.runid} --older-than 0s` finds them by their "
              "rolecall:run tag (add --delete to remove them)")
    elif kept is not None:
        print(f"\nrolecall: the run's state is kept in {kept} (--keep-state)")


def _record_runner_actions(config: pytest.Config, emulator: Emulator) -> None:
    """With --runner-policy: which of its actions the run (teardown included) needed, for
    the minimality check (tests/suite/test_runner_policy.py, `tox -e aws-realism`)."""
    if config.getoption("--runner-policy") is None:
        return
    out = Path(config.getoption("--evidence-dir")) / RUNNER_ACTIONS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(sorted(emulator.state.runner_actions), indent=1))
    print(f"\nrolecall: the runner policy's actions this run needed: {out}")


def _write_evidence(config: pytest.Config, run: Run) -> None:
    """Allure's run files and the bundle, both with the run's completeness; no bundle for
    --collect-only or a run whose session never started."""
    reporting = config.pluginmanager.get_plugin("rolecall-reporting")
    verdict = reporting.assess() if isinstance(reporting, plugin.CellReporting) else None
    alluredir = getattr(config.option, "allure_report_dir", None)
    if alluredir:  # Environment (with the run's status), Executors and Categories of Allure
        allure_run.write(Path(alluredir), run.report_meta(),
                         [s.name for s in config.stash[SCENARIOS_KEY]], evidence.git_sha(),
                         verdict)
    if not isinstance(reporting, plugin.CellReporting) or verdict is None:
        return
    xmlpath = getattr(config.option, "xmlpath", None)
    bundle = evidence.write_bundle(reporting.cells, run.report_meta(),
                                   Path(config.getoption("--evidence-dir")), verdict,
                                   junit=Path(xmlpath) if xmlpath else None,
                                   action_order=[probe.action for probe in PROBES],
                                   roles=evidence.roles_section(config.stash[SCENARIOS_KEY]))
    if bundle is not None:
        print(f"\nrolecall: {verdict.headline}\nrolecall: evidence bundle {bundle} (manifest.json "
              f"sha256 {evidence.sha256(bundle / evidence.MANIFEST)}); check it with "
              f"`rolecall verify {bundle}`")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    scenarios = metafunc.config.stash[SCENARIOS_KEY]
    expand: dict[str, Callable[[list[scenario.Scenario]], Sequence[Any]]] = {
        "claims_cell": matrix.claims_cells, "credential_cell": matrix.credential_cells,
        "access_cell": matrix.access_cells, "negative_cell": matrix.negative_cells,
        "control_cell": control.control_cells,
        "escalation_cell": escalation.escalation_cells,
        "audit_cell": audit_cells,  # static: no AWS call (rolecall/cells/audit.py)
        "identity_cell": identity_cells,  # E1: three GetId calls per scenario
        "binding_cell": binding_cells,  # E14: another user's token on an identity
        "session_cell": session_cells,  # C7, C8: DurationSeconds on the classic flow
    }
    for name, cells_of in expand.items():
        if name in metafunc.fixturenames:
            cells = cells_of(scenarios)
            metafunc.parametrize(name, cells, ids=[c.id for c in cells])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A kind of cell the selected scenarios do not have is deselected, never skipped:
    a skip must not look like coverage in a report."""
    empty = [item for item in items if item.name.endswith("[NOTSET]")]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [item for item in items if item not in empty]
    # Expiry cells wait (on a real account: 5 and 15 minutes); started first, on their
    # own workers, their waits overlap the rest of the matrix instead of ending the run.
    items.sort(key=lambda item: not _waits_for_expiry(item))
    if config.getoption("--cheapest-first"):
        items.sort(key=_cost_rank)  # stable: expiry cells stay first within their kind


# Kinds of cell by what one costs and how many there are (junit of a whole matrix, -n 2):
# credential and claim cells are ~12 ms and few, access cells ~30 ms and half the matrix.
CHEAPEST_FIRST = ("test_credentials", "test_id_token_claims", "test_identity_id", "test_audit",
                  "test_session_duration", "test_identity_binding", "test_broken_token",
                  "test_no_path_exceeds_the_entitlement", "test_control_plane", "test_access")


def _cost_rank(item: pytest.Item) -> int:
    name = getattr(item, "originalname", item.name)
    return CHEAPEST_FIRST.index(name) if name in CHEAPEST_FIRST else len(CHEAPEST_FIRST)


def _waits_for_expiry(item: pytest.Item) -> bool:
    cell = getattr(getattr(item, "callspec", None), "params", {}).get("negative_cell")
    return getattr(cell, "case", None) in {"expired", "session-expired"}


@pytest.fixture(scope="session")
def run(request: pytest.FixtureRequest) -> Run:
    return Run(request.config.stash[RUN_KEY])
