"""`rolecall` command line: the embedded target, the sweeper, and the evidence tools.

    rolecall emulator [--port 4566] [--fault NAME ...] [--list-faults]
    rolecall sweep [--target aws|emulated] [--older-than 24h] [--run RUNID] [--delete]
                   [--include-unknown-age]
                   [--stack NAME | --identity-pool-id ID | --user-pool-id ID]   (test users)
    rolecall init (--stack NAME | --identity-pool-id ID) --out FILE [--endpoint-url URL]
    rolecall audit [--scenario NAME ...] | --identity-pool-id ID [--target ...] [--json]
                   [--fail-on critical|high|medium|low]
    rolecall report [--results reports/allure-results] [--out reports/allure-report]
    rolecall verify reports/<runid>
    rolecall diff reports/<old runid> reports/<new runid> [--json]
    rolecall mutation [--quick] [--fault NAME ...] [-- pytest args]
    rolecall coverage [--write docs/coverage.md]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from rolecall.account import cleanup, clients, discovery, own_stack, testusers
from rolecall.cells import audit, audit_facts, audit_live
from rolecall.emulator import Emulator
from rolecall.emulator.faults import CATALOGUE
from rolecall.model import scenario
from rolecall.model.errors import ScenarioError
from rolecall.tools import coverage, evidence_cli, init_cli, mutation


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except BrokenPipeError:
        return _reader_went_away()


def _run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="rolecall",
        description="Conformance suite for Cognito identity pools: the embedded AWS target, "
                    "the audit, the sweeper, the mutation run and the evidence tools. "
                    "The conformance matrix itself runs with pytest (tox -e conformance).",
        epilog="`rolecall <command> --help` shows a command's options.")
    commands = parser.add_subparsers(dest="command", required=True, title="commands",
                                     metavar="<command>")

    emulator = commands.add_parser("emulator", help="run the embedded AWS endpoint")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=4566)
    emulator.add_argument("--fault", action="append", default=[],
                          help="switch on a named deviation from AWS (repeatable)")
    emulator.add_argument("--list-faults", action="store_true", help="print the fault catalogue")
    emulator.add_argument("--realism", default="none",
                          help="AWS's operating conditions: aws (propagation, throttling, tables) "
                               "or parts joined by commas, adding latency (rolecall/emulator/realism/)")
    emulator.add_argument("--realism-scale", type=float, default=1.0,
                          help="multiply every realism delay (0.05: a 10 s propagation takes 0.5 s)")
    emulator.add_argument("--runner-policy", default=None,
                          help="bind every long-term key to this IAM policy file (else: admin)")
    emulator.add_argument("--ready-file", default=None,
                          help="write the endpoint URL to this file once it answers (with --port 0)")
    emulator.set_defaults(handler=_emulator)

    sweep = commands.add_parser("sweep", help="list (or delete) resources left by old runs")
    sweep.add_argument("--target", choices=["aws", "emulated"], default=None,
                       help="default: emulated with --endpoint-url and no --aws-account-id, else aws")
    sweep.add_argument("--aws-account-id", default=None)
    sweep.add_argument("--region", default=None)
    sweep.add_argument("--endpoint-url", default=None)
    sweep.add_argument("--older-than", default="24h", type=_duration,
                       help="only resources created longer ago than this (e.g. 30m, 6h, 2d)")
    sweep.add_argument("--run", default=None, metavar="RUNID",
                       help="only resources of this run (tag rolecall:run)")
    sweep.add_argument("--delete", action="store_true", help="delete them (default: only list)")
    sweep.add_argument("--stack", default=None,
                       help="a discovered stack: its user pool's rolecall test users (rc-...)")
    sweep.add_argument("--identity-pool-id", default=None, help="the same, by identity pool")
    sweep.add_argument("--user-pool-id", default=None, help="the same, by user pool")
    sweep.add_argument("--include-unknown-age", action="store_true",
                       help="with --delete, also delete tagged resources whose age cannot be "
                            "known (no readable rolecall:created tag); by default they are "
                            "only listed")
    sweep.set_defaults(handler=_sweep)

    init_cli.add_parser(commands, _target_options)

    _add_audit(commands)
    evidence_cli.add_parsers(commands)  # report, verify, diff (rolecall/tools/evidence_cli.py)
    _add_mutation(commands)
    coverage.add_parser(commands)

    args = parser.parse_args(argv)
    try:
        if args.command == "init":
            return init_cli.run_init(args, _cli_target(args))
        code = int(args.handler(args))
        sys.stdout.flush()  # a closed pipe shows here, not as a traceback at exit
        return code
    except (clients.TargetError, ValueError, ScenarioError) as exc:
        print(f"rolecall {args.command}: {exc}", file=sys.stderr)
        return 2


def _target_options(parser: argparse.ArgumentParser) -> None:
    """Where a command reads and writes: the same options on every entry point."""
    parser.add_argument("--target", choices=["aws", "emulated"], default=None,
                        help="default: emulated with --endpoint-url and no --aws-account-id, "
                             "else aws")
    parser.add_argument("--aws-account-id", default=None)
    parser.add_argument("--region", default=None)
    parser.add_argument("--endpoint-url", default=None,
                        help="any endpoint that speaks AWS (a running `rolecall emulator`)")


def _cli_target(args: argparse.Namespace) -> clients.Target:
    kind = args.target or ("emulated" if args.endpoint_url and not args.aws_account_id else "aws")
    if kind == "emulated":
        if not args.endpoint_url:
            raise ValueError("--target emulated needs --endpoint-url of a running emulator")
        return clients.emulated(args.endpoint_url)
    return clients.aws(args.aws_account_id, args.region, args.endpoint_url)


def _reader_went_away() -> int:
    """`rolecall diff A B | head`: the reader closed the pipe; stop quietly, as Unix tools do.

    Python would otherwise print a traceback when it flushes stdout at exit, so stdout
    is pointed at /dev/null first. 141 = 128 + SIGPIPE, the shell's code for it.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141


def _duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; write e.g. 30m, 6h or 2d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


def _emulator(args: argparse.Namespace) -> int:

    if args.list_faults:
        for fault in CATALOGUE:
            mark = " (critical)" if fault.critical else ""
            print(f"{fault.name:34} {fault.rule:4} {fault.description}{mark}")
        return 0
    running = Emulator(host=args.host, port=args.port, faults=args.fault, realism=args.realism,
                       realism_scale=args.realism_scale, runner_policy=args.runner_policy).start()
    faults = f" with faults: {', '.join(args.fault)}" if args.fault else ""
    print(f"rolecall emulator listening on {running.endpoint}{faults}", flush=True)
    if running.state.realism.parts:  # its own line: scripts read the endpoint from the first
        print(f"AWS's operating conditions: {running.state.realism.describe()}", flush=True)
    if args.ready_file:
        Path(args.ready_file).write_text(running.endpoint)
    print("point any AWS client at it with --endpoint-url and any access keys; Ctrl-C stops it",
          flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    running.stop()
    print("rolecall emulator stopped", flush=True)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    """List leftovers as JSON lines (a dry run), or delete them; a summary on stderr."""
    target = _cli_target(args)
    if args.stack or args.identity_pool_id or args.user_pool_id:
        return _sweep_users(args, target)
    swept = cleanup.sweep(target, args.older_than, delete=args.delete,
                          include_unknown_age=args.include_unknown_age, runid=args.run)
    deleted = {(left.kind, left.ident) for left in swept.deleted}
    for left in swept.found:
        state = ("deleted" if (left.kind, left.ident) in deleted
                 else "delete failed" if args.delete else "would delete with --delete")
        if left.created is None and not (args.delete and args.include_unknown_age):
            state = "kept: age unknown (--delete --include-unknown-age deletes it)"
        print(json.dumps({**left.as_dict(), "state": state}))
    print(_sweep_summary(args, swept), file=sys.stderr)
    return 1 if swept.failures else 0


def _sweep_summary(args: argparse.Namespace, swept: cleanup.Sweep) -> str:
    lines = [f"found {len(swept.found)} tagged resource(s) older than {args.older_than}"
             + (f" of run {args.run}" if args.run else "")
             + (f", {len(swept.unknown_age)} of them of unknown age" if swept.unknown_age else "")]
    if args.delete:
        lines.append(f"deleted {len(swept.deleted)}")
    elif swept.found:
        lines.append("nothing deleted (a dry run): add --delete to delete them")
    if swept.unknown_age and not (args.delete and args.include_unknown_age):
        lines.append(f"{len(swept.unknown_age)} of unknown age kept: check them, then add "
                     "--include-unknown-age to delete them too")
    lines += [f"could not delete {failure}" for failure in swept.failures]
    return "\n".join(lines)


def _sweep_users(args: argparse.Namespace, target: clients.Target) -> int:
    """rolecall's test users (rc-<runid>-...) left in a team's user pool; nothing else."""
    pool = args.user_pool_id or discovery.discover(
        target, stack=args.stack, identity_pool_id=args.identity_pool_id).stack.user_pool_id
    leftovers = testusers.sweep_users(target, pool, args.older_than, delete=args.delete)
    for left in leftovers:
        print(json.dumps(left.as_dict()))
    print(f"{'deleted' if args.delete else 'found'} {len(leftovers)} rolecall test user(s) older "
          f"than {args.older_than} in user pool {pool}", file=sys.stderr)
    return 0


# --- audit: trust and configuration findings (rolecall/cells/audit.py) -------------------------

def _add_audit(commands: Any) -> None:
    parser = commands.add_parser(
        "audit", help="trust and configuration findings of scenarios or a live pool",
        description="Static audit of scenario files (default), or of a live identity pool with "
                    "--identity-pool-id. Exit 1 when a finding at or above --fail-on is not "
                    "accepted, or an acceptance is stale; findings below it are printed too.")
    parser.add_argument("--scenario-dir", default="scenarios", help="folder of scenario YAML files")
    parser.add_argument("--scenario", action="append", default=[],
                        help="audit only this scenario (repeatable); default: all")
    parser.add_argument("--identity-pool-id", default=None,
                        help="audit this live identity pool instead of scenario files")
    parser.add_argument("--role-prefix", default=None,
                        help="live: only scan roles whose name starts with this for trust of the pool")
    parser.add_argument("--stack", default=None,
                        help="audit this deployed CloudFormation stack (as `pytest suites --stack`)")
    parser.add_argument("--entitlements", default=None,
                        help="with --stack / --identity-pool-id: accept the findings it accepts")
    parser.add_argument("--fail-on", choices=audit_facts.SEVERITIES,
                        default=audit_facts.DEFAULT_FAIL_ON,
                        help="the least severe open finding that fails (exit 1); default "
                             f"{audit_facts.DEFAULT_FAIL_ON}: every open finding. Findings below "
                             "it are printed, marked as such, never hidden. The suite's audit "
                             "cells take the same threshold (pytest --audit-fail-on)")
    _target_options(parser)
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    parser.set_defaults(handler=_audit)


def _audit(args: argparse.Namespace) -> int:
    try:
        if args.stack or (args.identity_pool_id and args.entitlements):
            results = [audit.audit_scenario(_discovered(args))]
        elif args.identity_pool_id:
            results = [audit_live.audit_live(_cli_target(args), args.identity_pool_id,
                                        role_prefix=args.role_prefix)]
        else:
            results = [audit.audit_scenario(s)
                       for s in scenario.load_all(args.scenario_dir, args.scenario)]
    except ScenarioError as exc:
        raise ValueError(str(exc)) from None
    except ClientError as exc:
        raise ValueError(f"cannot read the stack: {exc}") from None
    failing = any(r.failing_at(args.fail_on) for r in results)
    if args.json:
        print(json.dumps({"stacks": [r.as_dict(args.fail_on) for r in results],
                          "fail_on": args.fail_on, "failing": failing}, indent=2))
    else:
        print("\n\n".join(audit.format_audit(r, args.fail_on) for r in results))
        print(f"\n{audit.summary(results, args.fail_on)}")
    return 1 if failing else 0


def _discovered(args: argparse.Namespace) -> Any:
    """A deployed stack read as the suite reads it, bound to the entitlements when given: the
    same findings, subjects and acceptances as the suite's audit cells."""
    found = own_stack.read(_cli_target(args), own_stack.OwnStack(
        args.stack, args.identity_pool_id), "audit")
    return own_stack.bind(found, args.entitlements)[0] if args.entitlements else found.scenario


# --- mutation: the suite against every emulator fault (rolecall/tools/mutation.py) -------------

def _add_mutation(commands: Any) -> None:

    mutation.add_parser(commands)


if __name__ == "__main__":
    sys.exit(main())
