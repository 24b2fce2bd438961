"""The run-level files Allure reads beside the results: environment, executor, categories.

Without them the report's Environment and Executors widgets are empty and every
failure lands in "Product defects". An auditor opening the report wants to know
which target, region, account (masked) and commit a run was, which CI job made it,
and whether a red cell is a spec violation, an escalation finding, a target error
or broken infrastructure. The Trend comes from the report folder's history file,
which each `rolecall report` there extends (rolecall/tools/nodetools.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import rolecall
from rolecall.reporting.completeness import Completeness
from rolecall.reporting.redact import mask_account, redact_text

ENVIRONMENT = "environment.properties"

# The first category whose statuses and message pattern match names a failure. Allure 3
# searches the message with a JavaScript RegExp (no inline flags; `[\s\S]` spans lines).
CATEGORIES = [
    {"name": "Escalation finding", "matchedStatuses": ["failed"],
     "messageRegex": r"escalat|more than (its|their) entitlement"},
    {"name": "Spec violation", "matchedStatuses": ["failed"],
     "messageRegex": r"expected [\s\S]*, observed [\s\S]*\[SPEC "},
    {"name": "Target error", "matchedStatuses": ["failed", "broken"],
     "messageRegex": r"ERROR|ClientError|Throttl|EndpointConnectionError|TargetError"},
    {"name": "Infrastructure", "matchedStatuses": ["broken"]},
]


def environment(meta: dict[str, Any], scenarios: list[str], git_sha: str,
                completeness: Completeness | None = None) -> dict[str, str]:
    """What the Environment widget shows: never an unmasked account or a secret.

    With the run's completeness (rolecall/reporting/completeness.py) it also says whether
    the report is the whole planned run: `run.status` is the same headline summary.md,
    matrix.html, evidence.json, JUnit and the terminal carry.
    """
    env = {"target": str(meta.get("target") or "-"), "region": str(meta.get("region") or "-"),
           "account": mask_account(str(meta.get("account") or "")) or "-",
           "run id": str(meta.get("runid") or "-"), "commit": git_sha,
           "rolecall version": rolecall.__version__,
           "scenarios": ", ".join(scenarios) or "-"}
    if completeness is not None:
        env.update({"run status": completeness.headline,
                    "run cells planned": "-" if completeness.planned is None
                    else str(completeness.planned),
                    "run cells observed": str(completeness.observed)})
        if completeness.not_probed:  # ran, asked nothing on purpose: not observed either
            env["run cells not_probed"] = str(len(completeness.not_probed))
    return env


def executor(env: dict[str, str] | None = None) -> dict[str, Any] | None:
    """The CI job that made the run (Executors widget), from the CI's own variables."""
    env = dict(os.environ) if env is None else env
    if env.get("GITHUB_ACTIONS"):
        server, repo, run = (env.get("GITHUB_SERVER_URL", "https://github.com"),
                             env.get("GITHUB_REPOSITORY", ""), env.get("GITHUB_RUN_ID", ""))
        url = f"{server}/{repo}/actions/runs/{run}" if repo and run else None
        return {"name": "GitHub Actions", "type": "github", "buildName": env.get("GITHUB_WORKFLOW"),
                "buildOrder": env.get("GITHUB_RUN_NUMBER"), "buildUrl": url, "reportName": "rolecall"}
    if env.get("GITLAB_CI"):
        return {"name": "GitLab CI", "type": "gitlab", "buildName": env.get("CI_JOB_NAME"),
                "buildUrl": env.get("CI_JOB_URL"), "reportName": "rolecall"}
    if env.get("JENKINS_URL") or env.get("BUILD_URL"):
        return {"name": "Jenkins", "type": "jenkins", "buildName": env.get("JOB_NAME"),
                "buildOrder": env.get("BUILD_NUMBER"), "buildUrl": env.get("BUILD_URL"),
                "reportName": "rolecall"}
    if env.get("CI"):
        return {"name": "CI", "type": "ci", "reportName": "rolecall"}
    return None


def write(results: Path, meta: dict[str, Any], scenarios: list[str], git_sha: str,
          completeness: Completeness | None = None) -> None:
    """environment.properties, executor.json (in CI) and categories.json into allure-results.

    The one writer of environment.properties: Java properties, one redacted line per key.
    """
    results.mkdir(parents=True, exist_ok=True)
    lines = [f"{key.replace(' ', '.')}={_property(value)}" for key, value in
             environment(meta, scenarios, git_sha, completeness).items()]
    (results / ENVIRONMENT).write_text("\n".join(lines) + "\n")
    (results / "categories.json").write_text(json.dumps(CATEGORIES, indent=1))
    job = executor()
    if job is not None:
        (results / "executor.json").write_text(redact_text(json.dumps(job, indent=1)))


def _property(value: str) -> str:
    """One line, redacted; backslashes escaped as Java properties want them."""
    return redact_text(" ".join(str(value).split())).replace("\\", "\\\\")
