"""Allure labels, links and attachments for every conformance cell, and the redacting writers.

A cell reads in Allure as the spec does: epic = scenario, feature = mapping
variant, story = flow, and parameters for who (user, groups), which role was
expected and observed, which action, and which outcome. Escalation cells (the
classic flow issuing a role) and trust failures (E11, C6) are critical. Each
cell links its SPEC rule and the source of its expectation, and carries the
user's decoded token claims, the role ARN obtained and the AWS request ids.

Everything Allure writes goes through `rolecall.reporting.redact` (the file logger of
allure-pytest is swapped for a redacting one), and failure reports are redacted
before JUnit, Allure or the terminal see them. It reads only a cell's
`Description` and the `Observation`s its test made (rolecall/reporting/records.py);
rolecall/reporting/plugin.py calls it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import allure
import allure_commons
from allure_commons.logger import AllureFileLogger

from rolecall.reporting import rules_page
from rolecall.reporting.records import Description, Observation
from rolecall.reporting.redact import redact, redact_bytes, redact_text

# Beside the report: `rolecall report` copies rules.html (docs/rules.md) into its folder.
SPEC_URL = os.environ.get("ROLECALL_SPEC_URL", rules_page.RULES_HTML)
CRITICAL_RULES = ("E11", "C6")


# --- labels ------------------------------------------------------------------------------

def severity(described: dict[str, Any], observed: str | None = None) -> str:
    """Critical: a path that escalates (classic flow issuing a role) or a broken trust rule."""
    rule = str(described.get("rule") or "")
    flow = str(described.get("flow") or "")
    issues_role = any(str(v or "").startswith("ISSUED") for v in (described.get("expected"),
                                                                   observed))
    if described.get("kind") == "escalation" or rule.split(" ")[0] in CRITICAL_RULES:
        return allure.severity_level.CRITICAL.value
    if flow.startswith("classic") and (issues_role or described.get("kind") == "access"):
        return allure.severity_level.CRITICAL.value
    return allure.severity_level.NORMAL.value


def _spec_link(rule: str) -> str:
    return f"{SPEC_URL}#{rules_page.rule_id(rule)}"


def _source_link(described: dict[str, Any]) -> tuple[str, str] | None:
    """The scenario file the expectation comes from, as a link inside the report folder.

    `rolecall report` copies the scenario files into `<report>/scenarios/`, so the link
    works where the report is and wherever it is copied; a report links nothing outside
    itself (a URL source is shown as the `expectation source` parameter instead).
    """
    source = str(described.get("source") or "")
    where = described.get("scenario_file")
    if not where or not source or source.startswith("SPEC "):  # the spec link says it all
        return None
    return f"scenarios/{Path(where).name}", f"expectation source: {source}"[:160]


# --- before the test: what the cell is ---------------------------------------------------------

def label(description: Description) -> None:
    """Label the cell before it runs: epic/feature/story, severity, links, parameters."""
    described = description.as_dict()
    kind = description.kind
    allure.dynamic.parameter(f"{kind}_cell", description.id)  # instead of the cell object's repr
    allure.dynamic.epic(described["scenario"] or "-")
    allure.dynamic.feature(described["variant"] or kind)
    allure.dynamic.story(described["flow"] or kind)
    allure.dynamic.severity(allure.severity_level(severity(described)))
    allure.dynamic.label("cell_kind", kind)
    for name in ("user", "groups", "expected_role", "action", "expected"):
        if described.get(name) not in (None, []):
            allure.dynamic.parameter(name.replace("_", " "), _text(described[name]))
    if (described.get("details") or {}).get("needs"):  # TransactGetItems: no permission of its own
        allure.dynamic.parameter("needs", _text(described["details"]["needs"]), excluded=True)
    if described["rule"]:
        for rule in str(described["rule"]).split("/"):
            allure.dynamic.link(_spec_link(rule), link_type="spec", name=f"SPEC {rule}")
    if str(described.get("source") or "").startswith(("http://", "https://")):
        allure.dynamic.parameter("expectation source", str(described["source"]))
    source = _source_link(described)
    if source:
        allure.dynamic.link(source[0], link_type="source", name=source[1])


def _text(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)


# --- at the end of the test's call: what it observed ---------------------------------------

def show_observations(observations: list[Observation]) -> None:
    """The observed side as parameters, then the attachments the test handed over (redacted)."""
    for index, seen in enumerate(observations):
        suffix = f" [{seen.part}]" if index and seen.part else ""
        if seen.observed_role is not None:
            allure.dynamic.parameter(f"observed role{suffix}", _text(seen.observed_role))
        if seen.observed is not None:
            allure.dynamic.parameter(f"observed{suffix}", _text(seen.observed))
    if not observations:
        return
    _attach_json({"request_ids": [r for seen in observations for r in seen.request_ids]},
                 "AWS request ids")
    _attach_json([{k: v for k, v in asdict(seen).items() if k != "attachments"}
                  for seen in observations], "observed record")
    for seen in observations:
        for name, value in seen.attachments.items():
            _attach_json(value, name)


def _attach_json(value: Any, name: str) -> None:
    allure.attach(json.dumps(redact(value), indent=2, sort_keys=True, default=str), name=name,
                  attachment_type=allure.attachment_type.JSON)


# --- the plugin: redacting writers and the outcome of every cell -------------------------------

class RedactingFileLogger(AllureFileLogger):
    """allure-pytest's writer, with every result, container and attachment redacted."""

    def _report_item(self, item: Any) -> None:
        for name in ("name", "description", "fullName"):
            if isinstance(getattr(item, name, None), str):
                setattr(item, name, redact_text(getattr(item, name)))
        details = getattr(item, "statusDetails", None)
        if details is not None:
            details.message = redact_text(details.message) if details.message else details.message
            details.trace = redact_text(details.trace) if details.trace else details.trace
        for parameter in getattr(item, "parameters", []) or []:
            parameter.value = redact_text(str(parameter.value))
        for step in getattr(item, "steps", []) or []:
            self._scrub_step(step)
        super()._report_item(item)

    def _scrub_step(self, step: Any) -> None:
        if step.statusDetails is not None and step.statusDetails.message:
            step.statusDetails.message = redact_text(step.statusDetails.message)
        if step.statusDetails is not None and step.statusDetails.trace:
            step.statusDetails.trace = redact_text(step.statusDetails.trace)
        for inner in step.steps or []:
            self._scrub_step(inner)

    @allure_commons.hookimpl
    def report_attached_data(self, body: Any, file_name: str) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        super().report_attached_data(redact_bytes(data), file_name)

    @allure_commons.hookimpl
    def report_attached_file(self, source: Any, file_name: str) -> None:
        super().report_attached_data(redact_bytes(Path(source).read_bytes()), file_name)


def use_redacting_writer() -> None:
    """Make allure-pytest's file logger (one per process) the redacting one.

    The same object is re-registered with the redacting class: allure-pytest
    unregisters it by identity at exit, and its folder is already set up.
    """
    for plugin in list(allure_commons.plugin_manager.get_plugins()):
        if type(plugin) is AllureFileLogger:
            allure_commons.plugin_manager.unregister(plugin)
            plugin.__class__ = RedactingFileLogger
            allure_commons.plugin_manager.register(plugin)
