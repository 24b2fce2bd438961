"""The tables of matrix.html: one cell's box, the users x actions grid of a variant, the
personas, claims and other kinds of cell. rolecall/reporting/matrix_html.py lays them out.

Each box is coloured by its verdict (pass, fail, error, NOT RUN, NOT PROBED), never by
what was observed, and says in text what was observed. The grid fits a laptop's width
(1600 px) with the probes of a whole table and its indexes: the first column (user,
flow, groups) stays in view, headers wrap at word boundaries, a long role name breaks
anywhere rather than widen the page.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

from rolecall.reporting import rules_page
from rolecall.reporting.records import NOT_RUN, NOT_RUN_OUTCOME, SKIPPED

NOTRUN = "NOTRUN"  # planned, never ran (rolecall/reporting/completeness.py)
NOTPROBED = "NOTPROBED"  # ran, asked nothing on purpose (a skip, with its reason)


def show(value: Any) -> str:
    """A value as the reports print it: `-` for nothing, lists in brackets."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def e(value: Any) -> str:
    """A value as HTML text."""
    return html.escape(show(value))


def breakable(text: str) -> str:
    """HTML text that may wrap inside a name: before capitals and `@`, after `=` and `,`.

    `BatchWriteItem` wraps as Batch|Write|Item, `classic=BooksWriteAccess` after the `=`,
    so headers and flows take the width of their words, not of the whole name."""
    escaped = html.escape(text)
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z@])|(?<=[=,])", "<wbr>", escaped)


def _verdict_class(observed: Any) -> str:
    text = str(observed or "")
    for word in ("ALLOWED", "DENIED", "ERROR", "ISSUED", "REFUSED"):
        if text.startswith(word):
            return word
    return "NONE"


def verdict_of(cell: dict[str, Any]) -> str:
    """pass, fail, error (the target answered neither way, or the test itself broke),
    NOTRUN: planned, never ran, or NOTPROBED: ran, asked nothing on purpose (skipped, with
    a reason); the last two are neither passed nor failed."""
    if cell.get("test_outcome") == NOT_RUN_OUTCOME or cell.get("observed") == NOT_RUN:
        return NOTRUN
    if cell.get("test_outcome") == SKIPPED:
        return NOTPROBED
    if cell["passed"]:
        return "pass"
    if _verdict_class(cell["observed"]) == "ERROR" or cell.get("test_outcome") == "error":
        return "error"
    return "fail"


def td(cell: dict[str, Any] | None, shown: Any | None = None) -> str:
    """One cell: coloured and marked by its verdict (pass, fail, error); the observation as text.

    The colour says whether the target did what the spec expects, never what it
    observed: an ALLOWED that should have been DENIED is red. A cell NOT PROBED says why.
    """
    if cell is None:
        return '<td class="v NONE">&ndash;</td>'
    verdict = verdict_of(cell)
    title = (f"{cell['id']}: {verdict}: expected {show(cell['expected'])}, observed "
             f"{show(cell['observed'])} [SPEC {show(cell['rule'])}; source: {show(cell['source'])}]")
    body = breakable(show(shown if shown is not None else cell["observed"]))
    if verdict == NOTPROBED:
        body = f'NOT PROBED<span class="exp">{e(cell.get("code") or "skipped")}</span>'
    elif not cell["passed"]:
        body += f'<span class="exp">expected {breakable(show(cell["expected"]))}</span>'
    return f'<td class="v {verdict}" title="{html.escape(title)}">{body}</td>'


def rule_link(rule: Any) -> str:
    """Each rule id (`E7b/E7a/C5`: an escalation cell's paths) linked to its entry in
    rules.html, which the bundle carries beside this page."""
    if not rule:
        return "-"
    return "/".join(f'<a href="{html.escape(rules_page.rule_href(part))}">{e(part)}</a>'
                    for part in str(rule).split("/"))


def by(cells: Iterable[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    """Cells grouped by one field, in the field's order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for cell in cells:
        groups.setdefault(str(cell.get(key) or "-"), []).append(cell)
    return dict(sorted(groups.items()))


def anchor(*parts: str) -> str:
    """An element id from names (scenario, variant) that may hold any character."""
    return "-".join(re.sub(r"[^A-Za-z0-9_.-]", "_", part) for part in parts)


# --- what an action means: a probe that is no permission of its own names what it needs ------

def needs_of(cells: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """Probe -> the permissions it needs, for probes that are no permission of their own
    (TransactGetItems needs GetItem; rolecall/cells/matrix.py records it)."""
    return {str(c["action"]): list(c["details"]["needs"]) for c in cells
            if c.get("action") and (c.get("details") or {}).get("needs")}


def action_label(action: str, needs: dict[str, list[str]]) -> str:
    """`TransactGetItems (needs GetItem)`: an auditor traces it to GetItem in the profile."""
    implied = needs.get(action)
    return f"{action} (needs {', '.join(implied)})" if implied else action


PARTITIONS = ("own", "other")  # per-identity tables: `GetItem@own`, `GetItem@other`


def action_order(actions: Iterable[str], order: Sequence[str]) -> list[str]:
    """The columns in the given order (the probes' SPEC D5 order), unknown actions after;
    on a per-identity table, the caller's own partition first, then the other's."""
    order = list(order)

    def key(action: str) -> tuple[int, int, str]:
        base, _, where = action.partition("@")
        block = PARTITIONS.index(where) + 1 if where in PARTITIONS else 0
        return block, order.index(base) if base in order else len(order), action

    return sorted(set(actions), key=key)


MAX_COLUMNS = 16  # action columns per grid: 16 fit beside the user and credential at 1600 px


def column_chunks(actions: list[str]) -> list[list[str]]:
    """The action columns split into as few even grids as keep each within MAX_COLUMNS."""
    if len(actions) <= MAX_COLUMNS:
        return [actions]
    count = -(-len(actions) // MAX_COLUMNS)
    size = -(-len(actions) // count)
    return [actions[at:at + size] for at in range(0, len(actions), size)]


# --- the users x actions grid of one variant -------------------------------------------------

def classic_setting(cells: Iterable[dict[str, Any]]) -> str | None:
    """The variant's classic-flow setting as its classic cells recorded it (the audit's words)."""
    for cell in cells:
        said = (cell.get("details") or {}).get("classic_flow")
        if said:
            return str(said)
    return None


# Older bundles recorded no setting: the refusal's rule still says why the flow refused.
REFUSAL_REASONS = {"C1": "AllowClassicFlow false: disabled (C1)",
                   "C3": "the pool's RoleMappings refuse it (C3)"}


def _collapse_refused_classic(rows: dict[tuple[str, str], dict[str, Any]], span: int
                              ) -> tuple[dict[tuple[str, str], dict[str, Any]], list[str]]:
    """A classic flow that refuses every user alike, as expected, becomes one row saying why."""
    classic = {key: row for key, row in rows.items() if key[1].startswith("classic")}
    outcomes = {str((row.get("credential") or {}).get("observed")) for row in classic.values()}
    closed = (len(classic) > 1 and len(outcomes) == 1 and next(iter(outcomes)).startswith("REFUSED")
              and all(row.get("credential", {}).get("passed") and not row["access"]
                      for row in classic.values()))
    if not closed:
        return rows, []
    users = sorted({user for user, _ in classic})
    credentials = [row["credential"] for row in classic.values()]
    any_cell = credentials[0]
    why = classic_setting(credentials) or REFUSAL_REASONS.get(str(any_cell.get("rule")), "")
    flows = ", ".join(sorted({flow for _, flow in classic}))
    line = (f'<tr class="collapsed"><th class="who">{len(users)} user(s)<span class="sub">'
            f'classic</span></th>{td(any_cell)}<td colspan="{span}" class="note">classic flow: '
            f"{html.escape(why)}. All {len(classic)} classic cells ({breakable(flows)}) of "
            f"{html.escape(', '.join(users))} observed this, as expected.</td></tr>")
    return {k: v for k, v in rows.items() if k not in classic}, [line]


def variant_grid(cells: list[dict[str, Any]], order: Sequence[str]) -> str:
    """Rows: each credential (user, flow); columns: its outcome, then every action probed.

    More actions than fit at a laptop's width (a per-identity table's own and other
    partitions) make two grids of the same rows, each with part of the actions."""
    actions = action_order((c["action"] for c in cells if c["kind"] == "access" and c["action"]),
                           order)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for cell in cells:
        row = rows.setdefault((cell["user"] or "guest", cell["flow"] or ""), {"access": {}})
        if cell["kind"] == "credential":
            row["credential"] = cell
        elif cell["kind"] == "access":
            row["access"][cell["action"]] = cell
            row.setdefault("role_from", cell)
    chunks = column_chunks(actions)
    return "".join(_grid(rows, chunk, needs_of(cells), first=n == 0,
                         part=f"actions {actions.index(chunk[0]) + 1}-"
                              f"{actions.index(chunk[-1]) + 1} of {len(actions)}"
                         if len(chunks) > 1 else "")
                   for n, chunk in enumerate(chunks))


def _grid(rows: dict[tuple[str, str], dict[str, Any]], actions: list[str],
          needs: dict[str, list[str]], first: bool, part: str) -> str:
    head = "".join(f"<th>{breakable(a)}"
                   + (f'<span class="sub">needs {html.escape(", ".join(needs[a]))}</span>'
                      if a in needs else "") + "</th>" for a in actions)
    caption = f"<caption>{html.escape(part)}</caption>" if part else ""
    out = [f'<div class="scroll"><table class="grid">{caption}<thead><tr><th class="who">user'
           '<span class="sub">flow, groups</span></th><th>credential (role)</th>'
           f"{head}</tr></thead><tbody>"]
    shown, collapsed = _collapse_refused_classic(rows, len(actions))
    out += collapsed if first or not part else []
    for (user, flow), row in sorted((shown if first or not part else rows).items()):
        if not first and part and not row["access"]:
            continue  # a credential with nothing probed is shown once, in the first grid
        out.append(f'<tr><th class="who">{html.escape(user)}<span class="sub">'
                   f'{breakable(flow)}</span>{_groups_and_role(row)}</th>'
                   f"{td(row.get('credential'))}"
                   + "".join(td(row["access"].get(a)) for a in actions) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _groups_and_role(row: dict[str, Any]) -> str:
    """The row's groups; and its role when no credential cell shows it (ISSUED(<role>))."""
    source = row.get("credential") or row.get("role_from") or {}
    groups = f'<span class="sub">{breakable(show(source.get("groups") or []))}</span>'
    if row.get("credential") is not None:
        return groups
    expected, observed = source.get("expected_role"), source.get("observed_role")
    said = e(observed) if expected == observed else \
        f'<span class="bad">{e(observed)}, expected {e(expected)}</span>'
    return f'{groups}<span class="sub">role {said}</span>'


# --- the other tables ---------------------------------------------------------------------

def personas(cells: list[dict[str, Any]], order: Sequence[str]) -> str:
    """Per user, in each variant's enhanced flow: the role they got and what it could do."""
    rows = []
    access = [c for c in cells if c["kind"] == "access" and c["flow"] == "enhanced"]
    needs = needs_of(access)
    for (variant, user), of_user in sorted(_group(access, "variant", "user").items()):
        got = action_order({a["action"] for a in of_user if a["observed"] == "ALLOWED"}, order)
        meant = action_order({a["action"] for a in of_user if a["expected"] == "ALLOWED"}, order)
        ok = all(a["passed"] for a in of_user)
        not_run = sum(1 for a in of_user if verdict_of(a) in (NOTRUN, NOTPROBED))
        role = of_user[0].get("observed_role")
        mark = f'<td class="v {NOTRUN}">{not_run} action(s) NOT RUN or NOT PROBED</td>' \
            if not_run else '<td class="v pass">as expected</td>' if ok else \
            f'<td class="v fail">{html.escape(_difference(got, meant, needs))}</td>'
        rows.append(f"<tr><td>{html.escape(variant)}</td><th>{html.escape(user)}</th>"
                    f"<td>{e(role)}</td><td>"
                    f"{html.escape(', '.join(action_label(a, needs) for a in got) or 'nothing')}"
                    f"</td>{mark}</tr>")
    if not rows:
        return ""
    return ("<details open><summary>who can do what (enhanced flow)</summary><table class=\"persona\">"
            "<thead><tr><th>variant</th><th>user</th><th>role</th><th>actions allowed (a probe "
            "that is no permission of its own says what it needs)</th>"
            f"<th>against expected</th></tr></thead><tbody>{''.join(rows)}</tbody></table></details>")


def _difference(got: list[str], meant: list[str], needs: dict[str, list[str]]) -> str:
    """What a persona can do that it should not, and the other way round."""
    said = []
    for what, actions in (("allowed beyond the profile", [a for a in got if a not in meant]),
                          ("not allowed, though the profile grants",
                           [a for a in meant if a not in got])):
        if actions:
            said.append(f"{what}: {', '.join(action_label(a, needs) for a in actions)}")
    return "; ".join(said) or "a cell failed (see the grid)"


def _group(cells: list[dict[str, Any]], *keys: str) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for cell in cells:
        groups.setdefault(tuple(str(cell.get(k) or "-") for k in keys), []).append(cell)
    return groups


def claims_table(cells: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><th>{e(c['user'])}</th><td>{e(c['groups'])}</td><td>{e(c['expected'])}</td>"
        f"{td(c, c['observed'] if c['observed'] is not None else 'none')}</tr>" for c in cells)
    return ("<h3>ID token: preferred role</h3><table class=\"claims\"><thead><tr><th>user</th>"
            "<th>groups</th><th>expected</th><th>observed</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def other_table(kind: str, cells: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><th>{breakable(show(c['id']))}</th><td>{e(c['expected'])}</td>"
        f"{td(c, _outcome_text(c))}<td>{rule_link(c['rule'])}</td></tr>" for c in cells)
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
    below = [f for f in findings if isinstance(f, dict) and f.get("accepted") is None
             and f.get("fails") is False]
    if passed and below:
        return (f"{checked}; open below --audit-fail-on {details.get('fail_on')}: "
                + ", ".join(f"{f.get('subject')} ({f.get('severity')})" for f in below))
    if passed:
        return f"{checked}; found and accepted with a reason: {subjects}"
    stale = details.get("stale") or []
    return f"{checked}; open: {subjects}" + (f"; stale acceptance: {stale}" if stale else "")
