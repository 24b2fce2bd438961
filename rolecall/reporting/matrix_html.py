"""matrix.html: a run's cells as a page an auditor reads with no network.

Per scenario and variant, a users x actions grid (credential outcome, role
expected and observed, then every DynamoDB action), a claims table, and one table
per other kind of cell. No script, no image, no link outside the bundle (rule ids
link to the bundle's rules.html): colours say the verdict, text the observation.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from typing import Any

from rolecall.reporting import rules_page
from rolecall.reporting.records import NOT_RUN, NOT_RUN_OUTCOME


def show(value: Any) -> str:
    """A value as the reports print it: `-` for nothing, lists in brackets."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


STYLE = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em;color:#1a1a1a}
h1{font-size:1.4em;margin:0 0 .3em} h2{margin-top:1.6em;border-bottom:2px solid #444}
h3{margin:1.2em 0 .4em} .meta{color:#444} .meta span{margin-right:1.5em}
table{border-collapse:collapse;margin:.4em 0 1em} th,td{border:1px solid #999;padding:3px 6px}
th{background:#eee;text-align:left;font-weight:600} td.v{text-align:center;min-width:5.5em}
thead th{position:sticky;top:0;z-index:1} .scroll{overflow-x:auto;max-width:100%}
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
"""


def _e(value: Any) -> str:
    return html.escape(show(value))


def _verdict_class(observed: Any) -> str:
    text = str(observed or "")
    for word in ("ALLOWED", "DENIED", "ERROR", "ISSUED", "REFUSED"):
        if text.startswith(word):
            return word
    return "NONE"


def _td(cell: dict[str, Any] | None, shown: Any | None = None) -> str:
    """One cell: coloured and marked by its verdict (pass, fail, error); the observation as text.

    The colour says whether the target did what the spec expects, never what it
    observed: an ALLOWED that should have been DENIED is red.
    """
    if cell is None:
        return '<td class="v NONE">&ndash;</td>'
    verdict = verdict_of(cell)
    title = (f"{cell['id']}: {verdict}: expected {show(cell['expected'])}, observed "
             f"{show(cell['observed'])} [SPEC {show(cell['rule'])}; source: {show(cell['source'])}]")
    body = _e(shown if shown is not None else cell["observed"])
    if not cell["passed"]:
        body += f'<span class="exp">expected {_e(cell["expected"])}</span>'
    return f'<td class="v {verdict}" title="{html.escape(title)}">{body}</td>'


NOTRUN = "NOTRUN"  # the class of a planned cell that never ran (rolecall/reporting/completeness.py)


def verdict_of(cell: dict[str, Any]) -> str:
    """pass, fail, error (the target answered neither way, or the test itself broke), or
    NOTRUN: planned, never ran, so neither passed nor failed."""
    if cell.get("test_outcome") == NOT_RUN_OUTCOME or cell.get("observed") == NOT_RUN:
        return NOTRUN
    if cell["passed"]:
        return "pass"
    if _verdict_class(cell["observed"]) == "ERROR" or cell.get("test_outcome") == "error":
        return "error"
    return "fail"


def rule_link(rule: Any) -> str:
    """A rule id linked to its entry in rules.html, which the bundle carries beside this page."""
    if not rule:
        return "-"
    return f'<a href="{html.escape(rules_page.rule_href(str(rule)))}">{_e(rule)}</a>'


def _collapse_closed_flows(rows: dict[tuple[str, str], dict[str, Any]], span: int
                           ) -> tuple[dict[tuple[str, str], dict[str, Any]], list[str]]:
    """A classic flow that is off: every one of its cells REFUSED alike becomes one row."""
    classic = {key: row for key, row in rows.items() if key[1].startswith("classic")}
    outcomes = {str((row.get("credential") or {}).get("observed")) for row in classic.values()}
    closed = (len(classic) > 1 and len(outcomes) == 1 and next(iter(outcomes)).startswith("REFUSED")
              and all(row.get("credential", {}).get("passed") and not row["access"]
                      for row in classic.values()))
    if not closed:
        return rows, []
    users = sorted({user for user, _ in classic})
    any_cell = next(iter(classic.values()))["credential"]
    line = (f"<tr><th>{len(users)} user(s)</th><td>classic (off)</td><td>-</td>{_td(any_cell)}"
            f"<td colspan=\"{span}\">all {len(classic)} classic cells "
            f"({html.escape(', '.join(sorted({f for _, f in classic})))}) of "
            f"{html.escape(', '.join(users))} observed this, as expected</td></tr>")
    return {k: v for k, v in rows.items() if k not in classic}, [line]


def _action_order(actions: Iterable[str], order: Sequence[str]) -> list[str]:
    """The columns in the given order (the probes' SPEC D5 order); unknown actions after."""
    order = list(order)
    return sorted(set(actions), key=lambda a: (order.index(a.split("@")[0])
                                               if a.split("@")[0] in order else len(order), a))


def _variant_grid(cells: list[dict[str, Any]], order: Sequence[str]) -> str:
    """Rows: each credential (flow, user); columns: its outcome, role, then every action."""
    actions = _action_order((c["action"] for c in cells if c["kind"] == "access" and c["action"]),
                            order)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for cell in cells:
        row = rows.setdefault((cell["user"] or "guest", cell["flow"] or ""), {"access": {}})
        if cell["kind"] == "credential":
            row["credential"] = cell
        elif cell["kind"] == "access":
            row["access"][cell["action"]] = cell
            row.setdefault("role_from", cell)
    head = "".join(f"<th>{html.escape(a)}</th>" for a in actions)
    out = [f"<div class=\"scroll\"><table class=\"grid\"><thead><tr><th>user</th><th>flow</th><th>groups</th>"
           f"<th>credential</th><th>role expected</th><th>role observed</th>{head}</tr></thead>"
           "<tbody>"]
    rows, collapsed = _collapse_closed_flows(rows, 2 + len(actions))
    out += collapsed
    for (user, flow), row in sorted(rows.items()):
        source = row.get("credential") or row.get("role_from") or {}
        role_ok = source.get("expected_role") == source.get("observed_role")
        role_class = "" if role_ok else ' class="bad"'
        out.append(f"<tr><th>{html.escape(user)}</th><td>{html.escape(flow)}</td>"
                   f"<td>{_e(source.get('groups') or [])}</td>{_td(row.get('credential'))}"
                   f"<td>{_e(source.get('expected_role'))}</td>"
                   f"<td{role_class}>{_e(source.get('observed_role'))}</td>"
                   + "".join(_td(row["access"].get(a)) for a in actions) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _claims_table(cells: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><th>{_e(c['user'])}</th><td>{_e(c['groups'])}</td><td>{_e(c['expected'])}</td>"
        f"{_td(c, c['observed'] if c['observed'] is not None else 'none')}</tr>" for c in cells)
    return ("<h3>ID token: preferred role</h3><table class=\"claims\"><thead><tr><th>user</th>"
            "<th>groups</th><th>expected</th><th>observed</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _other_table(kind: str, cells: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><th>{_e(c['id'])}</th><td>{_e(c['expected'])}</td>"
        f"{_td(c, _outcome_text(c))}<td>{rule_link(c['rule'])}</td></tr>" for c in cells)
    return (f"<h3>{html.escape(kind)} cells</h3><table class=\"other\"><thead><tr><th>cell</th>"
            "<th>expected</th><th>observed</th><th>rule</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _outcome_text(cell: dict[str, Any]) -> Any:
    details = cell.get("details") or {}
    if cell["kind"] == "audit" and details.get("title"):
        return _audit_text(details, cell["passed"])
    if cell["observed"] not in (None, []):
        return cell["observed"]
    return "as expected" if cell["passed"] else "failed"


def _audit_text(details: dict[str, Any], passed: bool) -> str:
    """What an audit cell checked and why it passed (or what is open)."""
    findings = details.get("findings") or []
    subjects = ", ".join(str(f.get("subject", f)) if isinstance(f, dict) else str(f)
                         for f in findings)
    checked = f"checked: {details['title']}"
    if not findings and not details.get("stale"):
        return f"{checked}; nothing found"
    if passed:
        return f"{checked}; found and accepted with a reason: {subjects}"
    stale = details.get("stale") or []
    return f"{checked}; open: {subjects}" + (f"; stale acceptance: {stale}" if stale else "")


def counts(cells: list[dict[str, Any]]) -> dict[str, int]:
    """Passed, failed, skipped and not run: a skipped or not-run cell is neither passed nor failed."""
    skipped = sum(1 for c in cells if c.get("test_outcome") == "skipped")
    not_run = sum(1 for c in cells if c.get("test_outcome") == NOT_RUN_OUTCOME)
    passed = sum(1 for c in cells if c["passed"])
    return {"cells": len(cells), "passed": passed,
            "failed": len(cells) - passed - skipped - not_run, "skipped": skipped,
            "not_run": not_run}


def by(cells: Iterable[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for cell in cells:
        groups.setdefault(str(cell.get(key) or "-"), []).append(cell)
    return dict(sorted(groups.items()))


def _personas(cells: list[dict[str, Any]]) -> str:
    """Per user, in each variant's enhanced flow: the role they got and what it could do."""
    rows = []
    access = [c for c in cells if c["kind"] == "access" and c["flow"] == "enhanced"]
    for (variant, user), of_user in sorted(_group(access, "variant", "user").items()):
        got = sorted({a["action"] for a in of_user if a["observed"] == "ALLOWED"})
        meant = sorted({a["action"] for a in of_user if a["expected"] == "ALLOWED"})
        ok = all(a["passed"] for a in of_user)
        not_run = sum(1 for a in of_user if verdict_of(a) == NOTRUN)
        role = of_user[0].get("observed_role")
        mark = f'<td class="v {NOTRUN}">{not_run} action(s) NOT RUN</td>' if not_run else \
            '<td class="v pass">as expected</td>' if ok else \
            f'<td class="v fail">expected {html.escape(", ".join(meant) or "nothing")}</td>'
        rows.append(f"<tr><td>{html.escape(variant)}</td><th>{html.escape(user)}</th>"
                    f"<td>{_e(role)}</td><td>{html.escape(', '.join(got) or 'nothing')}</td>"
                    f"{mark}</tr>")
    if not rows:
        return ""
    return ("<details open><summary>who can do what (enhanced flow)</summary><table class=\"persona\">"
            "<thead><tr><th>variant</th><th>user</th><th>role</th><th>actions allowed</th>"
            f"<th>against expected</th></tr></thead><tbody>{''.join(rows)}</tbody></table></details>")


def _group(cells: list[dict[str, Any]], *keys: str) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for cell in cells:
        groups.setdefault(tuple(str(cell.get(k) or "-") for k in keys), []).append(cell)
    return groups


def _roles_details(roles: dict[str, Any]) -> str:
    """Each role's declared profile (`allowed:`), groups, source and policy, one click away."""
    if not roles:
        return ""
    rows = []
    for name, role in sorted(roles.items()):
        policy = html.escape(json.dumps(role.get("policy"), indent=1))
        rows.append(f"<tr id=\"role-{html.escape(name)}\"><th>{html.escape(name)}</th>"
                    f"<td>{_e(role.get('groups'))}</td><td>{_e(role.get('allowed'))}</td>"
                    f"<td>{_e(role.get('source'))}</td><td><details><summary>policy</summary>"
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
    return (f"<p>{len(cells)} cells come from {tests} pytest tests: a test that checks several "
            "variants (a revoked token against every identity pool of its scenario) records one "
            "cell per variant, so pytest's count is lower.</p>")


def _contents(cells: list[dict[str, Any]]) -> str:
    """Table of contents: each scenario with its counts, linked to its section."""
    rows = []
    for scenario, of_scenario in by(cells, "scenario").items():
        sc = counts(of_scenario)
        mark = _verdict(sc, short=True)
        rows.append(f'<tr><td><a href="#scenario-{html.escape(scenario)}">{html.escape(scenario)}'
                    f'</a></td><td>{sc["cells"]}</td><td>{sc["passed"]}</td><td>{mark}</td></tr>')
    return ("<table class=\"toc\"><thead><tr><th>scenario</th><th>cells</th><th>passed</th>"
            f"<th>verdict</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _verdict(totals: dict[str, int], short: bool = False) -> str:
    """The page's (or a scenario's) verdict: failures and cells that never ran, never hidden."""
    bad = [f"{totals['failed']} failed" if short else f"{totals['failed']} cell(s) failed"
           ] if totals["failed"] else []
    if totals["not_run"]:
        bad.append(f"{totals['not_run']} NOT RUN" if short
                   else f"{totals['not_run']} cell(s) NOT RUN")
    if bad:
        return f'<span class="bad">{", ".join(bad)}</span>'
    return '<span class="ok">ok</span>' if short else '<span class="ok">all cells passed</span>'


def render_matrix(cells: list[dict[str, Any]], meta: dict[str, Any],
                  action_order: Sequence[str] = (),
                  roles: dict[str, dict[str, Any]] | None = None, banner: str = "") -> str:
    """One self-contained page: no script, no link, no image; colours and text say it all.

    `banner` is the first thing on the page: whether the run is complete (completeness.py).
    """
    roles = roles or {}
    totals = counts(cells)
    verdict = _verdict(totals)
    not_run = f", {totals['not_run']} NOT RUN" if totals["not_run"] else ""
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>rolecall run {_e(meta['runid'])}</title><style>{STYLE}</style></head><body>",
        banner,
        f"<h1>rolecall conformance run {_e(meta['runid'])}</h1><p class=\"meta\">"
        f"<span>target: {_e(meta['target'])}</span><span>region: {_e(meta['region'])}</span>"
        f"<span>account: {_e(meta['account'])}</span><span>started: {_e(meta['started_at'])}"
        f"</span><span>ended: {_e(meta['ended_at'])}</span></p>",
        f"<p class=\"totals\">{totals['cells']} cells: {totals['passed']} passed, "
        f"{totals['failed']} failed, {totals['skipped']} skipped{not_run} &mdash; {verdict}</p>",
        _tests_note(cells),
        "<table class=\"legend\"><tr><th>legend</th><td class=\"v pass\">as expected</td>"
        "<td class=\"v fail\">failed<span class=\"exp\">expected &hellip;</span></td>"
        "<td class=\"v error\">error (no verdict)</td><td class=\"v NONE\">not probed</td>"
        f"<td class=\"v {NOTRUN}\">NOT RUN (planned, never ran)</td>"
        "<td>text: what was observed (ALLOWED, DENIED, ISSUED(role), REFUSED(code))</td>"
        "</tr></table>",
        _contents(cells),
    ]
    for scenario, of_scenario in by(cells, "scenario").items():
        sc = counts(of_scenario)
        sc_not_run = f", {sc['not_run']} NOT RUN" if sc["not_run"] else ""
        parts.append(f"<section id=\"scenario-{html.escape(scenario)}\"><h2>scenario "
                     f"{html.escape(scenario)}</h2><p>{sc['cells']} cells, {sc['passed']} passed,"
                     f" {sc['failed']} failed{sc_not_run}</p>")
        parts.append(_personas(of_scenario))
        parts.append(_roles_details(roles.get(scenario) or {}))
        kinds = by(of_scenario, "kind")
        if "claims" in kinds:
            parts.append(_claims_table(kinds.pop("claims")))
        grid_cells = kinds.pop("credential", []) + kinds.pop("access", [])
        for variant, of_variant in by(grid_cells, "variant").items():
            parts.append(f"<h3>variant {html.escape(variant)}</h3>"
                         f"{_variant_grid(of_variant, action_order)}")
        for kind, rest in kinds.items():
            parts.append(_other_table(kind, rest))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


