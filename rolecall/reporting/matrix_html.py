"""matrix.html: a run's cells as a page an auditor reads with no network.

The page opens with the run's completeness and totals, a legend and a table of
contents (each scenario with its counts and verdict, and a link to each of its
variants). Each scenario is one collapsible section (`<details>`): open when
something in it failed, errored, did not run or was not probed (or when it is the
page's only scenario), closed when every cell passed, so a whole run (3,000 cells,
17 scenarios) is a page of headings, not 60,000 pixels of green. Inside: who can do
what, the roles' declared profiles, the ID-token claims, one users x actions grid
per variant (rolecall/reporting/matrix_grid.py) and a table per other kind of cell.

No script, no image, no link outside the bundle (rule ids link to the bundle's
rules.html): colours say the verdict, text the observation, and `<details>` opens
and closes without a script.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from rolecall.reporting.matrix_grid import (
    NOTPROBED,
    NOTRUN,
    anchor,
    by,
    claims_table,
    classic_setting,
    e,
    other_table,
    personas,
    show,
    variant_grid,
    verdict_of,
)
from rolecall.reporting.records import NOT_RUN_OUTCOME, SKIPPED

__all__ = ["by", "counts", "render_matrix", "show", "verdict_of"]

STYLE = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em;color:#1a1a1a}
h1{font-size:1.4em;margin:0 0 .3em} h2{display:inline;font-size:1.25em;margin:0}
h3{margin:1.2em 0 .4em} .meta{color:#444} .meta span{margin-right:1.5em}
table{border-collapse:collapse;margin:.4em 0 1em} th,td{border:1px solid #999;padding:3px 6px}
th{background:#eee;text-align:left;font-weight:600} thead th{vertical-align:bottom}
td.v{text-align:center} thead th{position:sticky;top:0;z-index:1}
.scroll{overflow-x:auto;max-width:100%}
.grid{font-size:12.5px} .grid th,.grid td{padding:2px 5px} .grid td.v{min-width:3.5em}
.grid td.v:nth-child(2){max-width:11em} .grid td.pass::before{content:none}
.grid .who{position:sticky;left:0;z-index:2;background:#f4f4f4;min-width:8em;max-width:14em;
 overflow-wrap:anywhere;vertical-align:top}
.grid td.note{text-align:left;white-space:normal} caption{text-align:left;font-weight:600}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:0}
.sub{display:block;font-size:.85em;font-weight:400;color:#444}
details.scenario{border-top:2px solid #444;margin-top:1.2em;padding-top:.3em}
details.scenario>summary{cursor:pointer;padding:.2em 0}
details.scenario>summary .counts{margin-left:1em}
.nav{font-size:.95em} .nav a{margin-right:.8em}
.pass{background:#c8e6c9;color:#1b5e20}
.fail{background:#ffcdd2;color:#8e0000}
.error{background:#ffe082;color:#5d4037} .NONE{background:#eceff1;color:#555}
td.fail{outline:3px solid #000;outline-offset:-3px;font-weight:700}
td.fail::before{content:"\\2717 "} td.pass::before{content:"\\2713 "}
td.error::before{content:"! "} .exp{display:block;font-size:.8em;font-weight:400}
.legend td{min-width:7em} .totals{font-size:1.1em} .toc td,.toc th{padding:2px 8px}
.ok{color:#1b5e20;font-weight:700} .bad{color:#b00020;font-weight:700}
.NOTRUN{background:repeating-linear-gradient(45deg,#eee,#eee 4px,#ccc 4px,#ccc 8px);color:#333}
td.NOTRUN::before{content:"? "}
.NOTPROBED{background:repeating-linear-gradient(135deg,#f5f5f5,#f5f5f5 4px,#ddd 4px,#ddd 8px);color:#333}
td.NOTPROBED::before{content:"\\2205  "}
"""


def counts(cells: list[dict[str, Any]]) -> dict[str, int]:
    """Passed, failed, not probed and not run: the last two are neither passed nor failed."""
    not_probed = sum(1 for c in cells if c.get("test_outcome") == SKIPPED)
    not_run = sum(1 for c in cells if c.get("test_outcome") == NOT_RUN_OUTCOME)
    passed = sum(1 for c in cells if c["passed"])
    return {"cells": len(cells), "passed": passed,
            "failed": len(cells) - passed - not_probed - not_run, "not_probed": not_probed,
            "not_run": not_run}


def _counted(totals: dict[str, int]) -> str:
    """`3,223 cells: 3,222 passed, 0 failed, 1 not probed`: one number format everywhere."""
    extra = (f", {totals['not_probed']:,} not probed" if totals["not_probed"] else "") + (
        f", {totals['not_run']:,} NOT RUN" if totals["not_run"] else "")
    return (f"{totals['cells']:,} cells: {totals['passed']:,} passed, "
            f"{totals['failed']:,} failed{extra}")


def _verdict(totals: dict[str, int], short: bool = False) -> str:
    """The page's (or a scenario's) verdict: failures and cells that never ran, never hidden."""
    bad = [f"{totals['failed']:,} failed" if short else f"{totals['failed']:,} cell(s) failed"
           ] if totals["failed"] else []
    if totals["not_run"]:
        bad.append(f"{totals['not_run']:,} NOT RUN" if short
                   else f"{totals['not_run']:,} cell(s) NOT RUN")
    if totals["not_probed"]:
        bad.append(f"{totals['not_probed']:,} NOT PROBED")
    if bad:
        return f'<span class="bad">{", ".join(bad)}</span>'
    return '<span class="ok">ok</span>' if short else '<span class="ok">all cells passed</span>'


def _roles_details(roles: dict[str, Any]) -> str:
    """Each role's declared profile (`allowed:`), groups, source and policy, one click away."""
    if not roles:
        return ""
    rows = []
    for name, role in sorted(roles.items()):
        policy = html.escape(json.dumps(role.get("policy"), indent=1))
        rows.append(f"<tr id=\"role-{html.escape(name)}\"><th>{html.escape(name)}</th>"
                    f"<td>{e(role.get('groups'))}</td><td>{e(role.get('allowed'))}</td>"
                    f"<td>{e(role.get('source'))}</td><td><details><summary>policy</summary>"
                    f"<pre>{policy}</pre></details></td></tr>")
    return (f"<details><summary>roles ({len(roles)}): declared profile and policy</summary>"
            "<table class=\"roles\"><thead><tr><th>role</th><th>groups</th><th>allowed "
            "(every other action must be DENIED)</th><th>source</th><th>policy</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></details>")


def _tests_note(cells: list[dict[str, Any]]) -> str:
    """Why pytest counts fewer tests than this page counts cells (one record per variant)."""
    tests = len({c.get("test") for c in cells if c.get("test")})
    if not tests or tests == len(cells):
        return ""
    return (f"<p>{len(cells):,} cells from {tests:,} pytest tests: a test that checks several "
            "variants (a revoked token against every identity pool of its scenario) is one cell "
            "per variant, planned and recorded as such, so pytest's count is lower.</p>")


def _variants(of_scenario: list[dict[str, Any]]) -> list[str]:
    return sorted({str(c.get("variant")) for c in of_scenario
                   if c["kind"] in ("credential", "access") and c.get("variant")})


def _contents(scenarios: dict[str, list[dict[str, Any]]]) -> str:
    """Table of contents: each scenario with its counts, linked to its section and variants."""
    rows = []
    for scenario, of_scenario in scenarios.items():
        sc = counts(of_scenario)
        variants = " ".join(
            f'<a href="#{anchor("variant", scenario, v)}">{html.escape(v)}</a>'
            for v in _variants(of_scenario))
        rows.append(f'<tr><td><a href="#{anchor("scenario", scenario)}">{html.escape(scenario)}'
                    f'</a></td><td>{sc["cells"]:,}</td><td>{sc["passed"]:,}</td>'
                    f'<td>{_verdict(sc, short=True)}</td><td class="nav">{variants}</td></tr>')
    return ("<nav id=\"contents\"><table class=\"toc\"><thead><tr><th>scenario</th><th>cells</th>"
            "<th>passed</th><th>verdict</th><th>variants (grids)</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></nav>")


def _scenario_section(scenario: str, of_scenario: list[dict[str, Any]],
                      action_order: Sequence[str], roles: dict[str, Any], open_: bool) -> str:
    """One scenario as a collapsible section; open when it has something to look at."""
    sc = counts(of_scenario)
    variants = _variants(of_scenario)
    links = "".join(f'<a href="#{anchor("variant", scenario, v)}">variant {html.escape(v)}</a>'
                    for v in variants)
    parts = [f'<details class="scenario" id="{anchor("scenario", scenario)}"'
             f'{" open" if open_ else ""}><summary><h2>scenario {html.escape(scenario)}</h2>'
             f'<span class="counts">{_counted(sc)} &mdash; {_verdict(sc, short=True)}</span>'
             f'</summary><p class="nav"><a href="#contents">&uarr; contents</a>{links}</p>',
             personas(of_scenario, action_order), _roles_details(roles)]
    kinds = by(of_scenario, "kind")
    if "claims" in kinds:
        parts.append(claims_table(kinds.pop("claims")))
    grid_cells = kinds.pop("credential", []) + kinds.pop("access", [])
    for variant, of_variant in by(grid_cells, "variant").items():
        setting = classic_setting(of_variant)
        said = f'<span class="sub">classic flow: {html.escape(setting)}</span>' if setting else ""
        parts.append(f'<section id="{anchor("variant", scenario, variant)}"><h3>variant '
                     f"{html.escape(variant)}{said}</h3>{variant_grid(of_variant, action_order)}"
                     "</section>")
    for kind, rest in kinds.items():
        parts.append(other_table(kind, rest))
    parts.append("</details>")
    return "\n".join(parts)


def _worth_opening(cells: list[dict[str, Any]]) -> bool:
    """A section opens by itself when a cell in it failed, errored, never ran or asked nothing."""
    return any(verdict_of(c) != "pass" for c in cells)


def render_matrix(cells: list[dict[str, Any]], meta: dict[str, Any],
                  action_order: Sequence[str] = (),
                  roles: dict[str, dict[str, Any]] | None = None, banner: str = "") -> str:
    """One self-contained page: no script, no link, no image; colours and text say it all.

    `banner` is the first thing on the page: whether the run is complete (completeness.py).
    """
    roles = roles or {}
    totals = counts(cells)
    scenarios = by(cells, "scenario")
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>rolecall run {e(meta['runid'])}</title><style>{STYLE}</style></head><body>",
        banner,
        f"<h1>rolecall conformance run {e(meta['runid'])}</h1><p class=\"meta\">"
        f"<span>target: {e(meta['target'])}</span><span>region: {e(meta['region'])}</span>"
        f"<span>account: {e(meta['account'])}</span><span>started: {e(meta['started_at'])}"
        f"</span><span>ended: {e(meta['ended_at'])}</span></p>",
        f"<p class=\"totals\">{_counted(totals)} &mdash; {_verdict(totals)}</p>",
        _tests_note(cells),
        "<table class=\"legend\"><tr><th>legend</th><td class=\"v pass\">as expected</td>"
        "<td class=\"v fail\">failed<span class=\"exp\">expected &hellip;</span></td>"
        "<td class=\"v error\">error (no verdict)</td>"
        "<td class=\"v NONE\">&ndash; no cell (no credential to probe with)</td>"
        f"<td class=\"v {NOTRUN}\">NOT RUN (planned, never ran)</td>"
        f"<td class=\"v {NOTPROBED}\">NOT PROBED (ran, asked nothing on purpose: the reason)</td>"
        "<td>text: what was observed (ALLOWED, DENIED, ISSUED(role), REFUSED(code))</td>"
        "</tr></table>",
        "<p>Scenarios where every cell passed are closed: open one with its heading. The "
        "contents link each scenario and each variant's grid.</p>" if len(scenarios) > 1 else "",
        _contents(scenarios),
    ]
    for scenario, of_scenario in scenarios.items():
        parts.append(_scenario_section(scenario, of_scenario, action_order,
                                       roles.get(scenario) or {},
                                       len(scenarios) == 1 or _worth_opening(of_scenario)))
    parts.append("</body></html>")
    return "\n".join(parts)
