"""Every rule id the suite cites is in docs/rules.md, and the reports link to it, not outside.

Rule ids are cited in failure messages (`[SPEC D1]`), in the oracle's outcomes, in the
audit's findings, in the emulator's fault catalogue and in scenario pins. A reader who
follows one must find it in the repository (docs/rules.md) or in the report folder
(rules.html, rendered from it).
"""

from __future__ import annotations

import re
from pathlib import Path

from rolecall.reporting import allure_labels, rules_page

ROOT = Path(__file__).resolve().parents[2]
RULES = (ROOT / "docs" / "rules.md").read_text()
CITED = re.compile(r"\b([GPECTD](?:[1-9]|1[0-4])[a-c]?|[BR][12]|A[1-4])\b")


def cited_rule_ids() -> set[str]:
    """Rule ids in the library, the suites and the scenarios (SPEC-style: G4, E7b, D1)."""
    files = [*ROOT.glob("rolecall/**/*.py"), *ROOT.glob("suites/*.py"), *ROOT.glob("scenarios/*.yaml")]
    found = set()
    for path in files:
        found |= set(CITED.findall(path.read_text()))
    return found


def test_every_cited_rule_id_is_in_docs_rules_md() -> None:
    defined = rules_page.anchors(RULES)
    cited = {rule.lower() for rule in cited_rule_ids()}
    assert len(cited) > 30, "the scan finds the rule ids the code cites"
    missing = sorted(cited - defined)
    assert not missing, f"cited but not in docs/rules.md: {missing}; add an entry with its anchor"


def test_the_rules_page_is_self_contained_and_has_every_anchor() -> None:
    page = rules_page.render(RULES)
    assert not re.search(r"<(script|link|img|iframe)\b|href=", page, re.I)
    for rule in rules_page.anchors(RULES):
        assert f'id="{rule}"' in page


def test_allure_and_messages_link_inside_the_repository_or_report() -> None:
    assert allure_labels._spec_link("E7b") == "rules.html#e7b"
    from rolecall.cells.matrix import mismatch

    assert "docs/rules.md#d1" in mismatch("c", "DENIED", "ALLOWED", "D1", "s")
    assert (ROOT / "docs" / "rules.md").is_file()
    assert "../shared" not in (ROOT / "README.md").read_text()
