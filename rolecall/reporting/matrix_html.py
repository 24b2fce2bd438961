"""matrix.html: a run's cells as a page an auditor reads with no network.

Per scenario and variant, a users x actions grid (credential outcome, role
expected and observed, then every DynamoDB action), a claims table, and one table
per other kind of cell. No script, no link, no image: colours and text say it all.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any


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
.ALLOWED,.ISSUED{background:#c8e6c9;color:#1b5e20}
.DENIED,.REFUSED{background:#ffcdd2;color:#8e0000}
.ERROR{background:#ffe082;color:#5d4037} .NONE{background:#eceff1;color:#555}
.MATCH{background:#e3f2fd;color:#0d47a1}
td.fail{outline:3px solid #000;outline-offset:-3px;font-weight:700}
td.fail::before{content:"\\2717 "} .exp{display:block;font-size:.8em;font-weight:400}
.legend td{min-width:7em} .totals{font-size:1.1em}
.ok{color:#1b5e20;font-weight:700} .bad{color:#b00020;font-weight:700}
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
    """One observation: coloured by verdict (or as-expected), failures outlined with the expectation."""
    if cell is None:
        return '<td class="v NONE">&ndash;</td>'
    verdict = _verdict_class(cell["observed"])
    if verdict == "NONE" and cell["passed"]:
        verdict = "MATCH"  # not a verdict word (a role name, findings): as expected
    classes = f"v {verdict}" + ("" if cell["passed"] else " fail")
    title = (f"{cell['id']}: expected {show(cell['expected'])}, observed {show(cell['observed'])}"
             f" [SPEC {show(cell['rule'])}; source: {show(cell['source'])}]")
    body = _e(shown if shown is not None else cell["observed"])
    if not cell["passed"]:
        body += f'<span class="exp">expected {_e(cell["expected"])}</span>'
    return f'<td class="{classes}" title="{html.escape(title)}">{body}</td>'


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
    out = [f"<table class=\"grid\"><thead><tr><th>user</th><th>flow</th><th>groups</th>"
           f"<th>credential</th><th>role expected</th><th>role observed</th>{head}</tr></thead>"
           "<tbody>"]
    for (user, flow), row in sorted(rows.items()):
        source = row.get("credential") or row.get("role_from") or {}
        role_ok = source.get("expected_role") == source.get("observed_role")
        role_class = "" if role_ok else ' class="bad"'
        out.append(f"<tr><th>{html.escape(user)}</th><td>{html.escape(flow)}</td>"
                   f"<td>{_e(source.get('groups') or [])}</td>{_td(row.get('credential'))}"
                   f"<td>{_e(source.get('expected_role'))}</td>"
                   f"<td{role_class}>{_e(source.get('observed_role'))}</td>"
                   + "".join(_td(row["access"].get(a)) for a in actions) + "</tr>")
    out.append("</tbody></table>")
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
        f"{_td(c, _outcome_text(c))}<td>{_e(c['rule'])}</td></tr>" for c in cells)
    return (f"<h3>{html.escape(kind)} cells</h3><table class=\"other\"><thead><tr><th>cell</th>"
            "<th>expected</th><th>observed</th><th>rule</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _outcome_text(cell: dict[str, Any]) -> Any:
    if cell["observed"] not in (None, []):
        return cell["observed"]
    return "as expected" if cell["passed"] else "failed"


def counts(cells: list[dict[str, Any]]) -> dict[str, int]:
    skipped = sum(1 for c in cells if c.get("test_outcome") == "skipped")
    passed = sum(1 for c in cells if c["passed"])
    return {"cells": len(cells), "passed": passed, "failed": len(cells) - passed - skipped,
            "skipped": skipped}


def by(cells: Iterable[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for cell in cells:
        groups.setdefault(str(cell.get(key) or "-"), []).append(cell)
    return dict(sorted(groups.items()))


def render_matrix(cells: list[dict[str, Any]], meta: dict[str, Any],
                  action_order: Sequence[str] = ()) -> str:
    """One self-contained page: no script, no link, no image; colours and text say it all."""
    totals = counts(cells)
    verdict = ('<span class="ok">all cells passed</span>' if totals["failed"] == 0 else
               f'<span class="bad">{totals["failed"]} cell(s) failed</span>')
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>rolecall run {_e(meta['runid'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>rolecall conformance run {_e(meta['runid'])}</h1><p class=\"meta\">"
        f"<span>target: {_e(meta['target'])}</span><span>region: {_e(meta['region'])}</span>"
        f"<span>account: {_e(meta['account'])}</span><span>started: {_e(meta['started_at'])}"
        f"</span><span>ended: {_e(meta['ended_at'])}</span></p>",
        f"<p class=\"totals\">{totals['cells']} cells: {totals['passed']} passed, "
        f"{totals['failed']} failed, {totals['skipped']} skipped &mdash; {verdict}</p>",
        "<table class=\"legend\"><tr><th>legend</th><td class=\"v ALLOWED\">ALLOWED / ISSUED</td>"
        "<td class=\"v DENIED\">DENIED / REFUSED</td><td class=\"v ERROR\">ERROR</td>"
        "<td class=\"v MATCH\">as expected (claims, checks)</td>"
        "<td class=\"v NONE\">not probed</td><td class=\"v ALLOWED fail\">failed cell"
        "<span class=\"exp\">expected &hellip;</span></td></tr></table>",
    ]
    for scenario, of_scenario in by(cells, "scenario").items():
        sc = counts(of_scenario)
        parts.append(f"<section id=\"scenario-{html.escape(scenario)}\"><h2>scenario "
                     f"{html.escape(scenario)}</h2><p>{sc['cells']} cells, {sc['passed']} passed,"
                     f" {sc['failed']} failed</p>")
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


