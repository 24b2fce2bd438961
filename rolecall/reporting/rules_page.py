"""docs/rules.md as one self-contained HTML page, for the reports to link to.

Every report cites rules by id (`SPEC D1`). The links must work in a fresh clone
and in a report folder copied elsewhere, so the page travels with the reports:
the evidence bundle holds `rules.html` (hashed like every file) and `rolecall
report` puts it beside the Allure report; both link `rules.html#d1`. The rules
are plain Markdown (headings, paragraphs, lists, tables); this renders exactly
that subset, escapes everything else, and turns links into text so the page
calls nothing outside itself.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

RULES_HTML = "rules.html"
ANCHOR = re.compile(r'<a id="([a-z0-9]+)"></a>')


def rule_id(rule: str) -> str:
    """The anchor of a cited rule: 'E7b' -> e7b, 'C1/E4 ...' -> c1."""
    return rule.split(" ")[0].split("/")[0].split(";")[0].lower()


def rule_href(rule: str) -> str:
    """The link from a report page to a rule: rules.html#<id> beside the page."""
    return f"{RULES_HTML}#{rule_id(rule)}"


def rules_source() -> Path | None:
    """docs/rules.md: ROLECALL_RULES, the project folder a run starts in, or the checkout."""
    candidates = [os.environ.get("ROLECALL_RULES"), Path.cwd() / "docs" / "rules.md",
                  Path(__file__).resolve().parents[2] / "docs" / "rules.md"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def anchors(markdown: str) -> set[str]:
    """The rule ids the catalogue defines."""
    return set(ANCHOR.findall(markdown))


def render(markdown: str) -> str:
    """The catalogue as one HTML page: no script, no external link or asset."""
    body: list[str] = []
    table: list[list[str]] = []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                table.append(cells)
            continue
        if table:
            body.append(_table(table))
            table = []
        if line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 3)
            body.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("- "):
            body.append(f"<ul><li>{_inline(line[2:])}</li></ul>")
        elif line.startswith("  ") and body and body[-1].endswith("</li></ul>"):
            body[-1] = body[-1][:-len("</li></ul>")] + f" {_inline(line.strip())}</li></ul>"
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    return PAGE.format(body="\n".join(body).replace("</p>\n<p>", " "))


def _table(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_inline(c)}</th>" for c in rows[0])
    lines = ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in rows[1:]]
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def _inline(text: str) -> str:
    """Escape, then the Markdown this file uses: `code`, **bold**, [text](link) as text, anchors."""
    ids = ANCHOR.findall(text)
    text = html.escape(ANCHOR.sub("", text))
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"\1 (docs/\2)", text)
    return "".join(f'<span id="{i}"></span>' for i in ids) + text


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rolecall: the rules it checks</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 1.5em; max-width: 80em; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #bbb; padding: 0.3em 0.5em; vertical-align: top; text-align: left; }}
th {{ background: #eee; }}
tr:target, td span:target {{ background: #fff3b0; }}
tr:has(span:target) {{ background: #fff3b0; }}
code {{ background: #f3f3f3; padding: 0 0.2em; }}
</style></head><body>
{body}
</body></html>
"""
