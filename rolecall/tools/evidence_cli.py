"""`rolecall report | verify | diff`: the evidence tools of the command line.

    rolecall report [--results reports/allure-results] [--out reports/allure-report]
    rolecall verify reports/<runid> [--allow-partial | --require-full]
    rolecall diff reports/<old runid> reports/<new runid> [--json]
    rolecall merge --out reports/merged BUNDLE [BUNDLE ...]

Exit codes: 0 fine (intact and complete; no change), 1 the answer is "no" (tampered
bundle; an incomplete run; cells changed, added, removed or missing), 2 the command could not run
(the message names the file and the fix).

`verify` judges extent as well as integrity. An INCOMPLETE bundle (interrupted,
stopped early, a worker lost, or a bundle that does not record its extent) exits 1
unless `--allow-partial`. A deliberate SELECTION (`--scenario books`, `-k ...`)
exits 0 and prints what the selection was: it covers exactly what it says it does,
in every file of the bundle; `--require-full` refuses it too, for a gate that needs
the whole suite. Cells NOT PROBED (ran, asked nothing on purpose: no safe way to ask
on a team's table) are treated like a selection: printed with their reasons, accepted
by default (the suite chose not to ask, and every file says so), refused by
`--require-full`, which demands every cell of the suite observed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rolecall.reporting import evidence
from rolecall.reporting.completeness import INCOMPLETE, SELECTION, Completeness
from rolecall.reporting.merge import merge
from rolecall.tools import nodetools


def add_parsers(commands: Any) -> None:
    report = commands.add_parser("report", help="build the Allure HTML report from allure-results",
                                 description="Runs the pinned Allure CLI (installed from the npm "
                                 "registry into ./node_modules on first use; Node.js only).")
    report.add_argument("--results", type=Path, default=Path("reports/allure-results"))
    report.add_argument("--out", type=Path, default=Path("reports/allure-report"))
    report.set_defaults(handler=_report)

    verify = commands.add_parser("verify", help="re-hash an evidence bundle: is it intact?")
    verify.add_argument("bundle", type=Path, help="reports/<runid>")
    extent = verify.add_mutually_exclusive_group()
    extent.add_argument("--allow-partial", action="store_true",
                        help="accept an incomplete run (interrupted, stopped early) if intact")
    extent.add_argument("--require-full", action="store_true",
                        help="refuse a deliberate selection (--scenario, -k ...) and cells NOT "
                             "PROBED as well: every cell of the suite observed")
    verify.set_defaults(handler=_verify)

    diff = commands.add_parser("diff", help="cells whose outcome or role changed between runs")
    diff.add_argument("old", type=Path, help="the earlier bundle, reports/<runid>")
    diff.add_argument("new", type=Path, help="the later bundle, reports/<runid>")
    diff.add_argument("--json", action="store_true", help="print JSON for machines")
    diff.set_defaults(handler=_diff)

    merge = commands.add_parser("merge", help="join many jobs' bundles into one verified bundle")
    merge.add_argument("bundles", type=Path, nargs="+", help="reports/<runid> of each job")
    merge.add_argument("--out", type=Path, default=Path("reports/merged"),
                       help="the merged bundle goes to OUT/<runid>")
    merge.add_argument("--runid", default="merged")
    merge.set_defaults(handler=_merge)


def _fail(command: str, exc: Exception) -> int:
    print(f"rolecall {command}: {exc}", file=sys.stderr)
    return 2


def _report(args: argparse.Namespace) -> int:
    try:
        index = nodetools.generate_report(args.results, args.out)
    except nodetools.ToolError as exc:
        return _fail("report", exc)
    print(f"Allure report: {index} (one self-contained file; open it in a browser)")
    return 0


def _verify(args: argparse.Namespace) -> int:
    try:
        checked = evidence.verify(args.bundle)
    except evidence.BundleError as exc:
        return _fail("verify", exc)
    print(f"manifest.json sha256 {checked.manifest_sha256} (compare with the run's log)")
    if not checked.intact:
        print(f"{args.bundle}: NOT intact: {len(checked.problems)} problem(s)")
        for problem in checked.problems:
            print(f"  {problem}")
        return 1
    print(f"{args.bundle}: intact: every file matches manifest.json")
    return _judge_extent(args, checked.completeness)


def _judge_extent(args: argparse.Namespace, verdict: Completeness | None) -> int:
    """0 when the bundle covers what it claims (and what the flags demand), else 1."""
    if verdict is None:
        print(f"{args.bundle}: completeness NOT recorded (a bundle from before schema 2): "
              "it cannot show it holds the whole run")
        return _partial(args)
    print(f"{args.bundle}: {verdict.headline}")
    if verdict.not_probed:
        print(f"  {len(verdict.not_probed):,} cell(s) NOT PROBED (ran, asked nothing on "
              "purpose; not observed):")
        for cell, why in sorted(verdict.not_probed.items()):
            print(f"    {cell}: {why}")
    if verdict.status == INCOMPLETE:
        if verdict.missing:
            print(f"  {len(verdict.missing):,} planned cell(s) NOT RUN, e.g. "
                  f"{', '.join(verdict.missing[:3])}")
        return _partial(args)
    if verdict.status == SELECTION:
        if args.require_full:
            print("  refused (--require-full): a selection is not the whole suite")
            return 1
        print("  accepted: a deliberate selection, recorded as such in every file of the bundle "
              "(--require-full refuses it)")
    if verdict.not_probed:
        if args.require_full:
            print("  refused (--require-full): cells NOT PROBED were not observed")
            return 1
        print("  accepted: cells NOT PROBED are a reasoned gap, named with their reason in "
              "every file of the bundle (--require-full refuses them)")
    return 0


def _partial(args: argparse.Namespace) -> int:
    if args.allow_partial:
        print("  accepted as partial (--allow-partial)")
        return 0
    print("  refused: this bundle does not cover its run; take the evidence again, or pass "
          "--allow-partial to accept it as it is")
    return 1


def _diff(args: argparse.Namespace) -> int:
    try:
        changes = evidence.diff(args.old, args.new)
    except evidence.BundleError as exc:
        return _fail("diff", exc)
    for side, bundle in (("old", args.old), ("new", args.new)):
        verdict = evidence.completeness_of(bundle)
        if verdict is None or verdict.status == INCOMPLETE:
            said = verdict.headline if verdict else "completeness not recorded"
            print(f"warning: the {side} bundle {bundle} is {said}", file=sys.stderr)
    if args.json:
        print(json.dumps([{"id": c.id, "kind": c.kind, "only": c.only, "not_run": c.not_run,
                           "outside_selection": c.outside,
                           "changed": {k: {"old": o, "new": n} for k, (o, n) in c.fields.items()}}
                          for c in changes], indent=2))
    else:
        for change in changes:
            print(change.describe())
        kinds = {kind: sum(1 for c in changes if c.kind == kind)
                 for kind in ("changed", "added", "removed", "missing")}
        print(f"{kinds['changed']} cell(s) changed, {kinds['added']} added, {kinds['removed']} "
              f"removed; {kinds['missing']} cell(s) missing (NOT RUN, or outside a selection: "
              f"not compared) between {args.old} and {args.new}", file=sys.stderr)
    return 1 if changes else 0


def _merge(args: argparse.Namespace) -> int:
    try:
        bundle = merge(args.bundles, args.out, args.runid)
    except evidence.BundleError as exc:
        return _fail("merge", exc)
    print(f"merged {len(args.bundles)} bundle(s) into {bundle} (manifest.json sha256 "
          f"{evidence.sha256(bundle / evidence.MANIFEST)})")
    return 0
