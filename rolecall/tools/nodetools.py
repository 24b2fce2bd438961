"""The report's Node.js tools, pinned and installed into the project by rolecall itself.

The Allure 3 CLI (npm `allure`, Node.js only) turns allure-results into the HTML
report. Headless Chromium (@sparticuz/chromium, a Chromium build shipped inside
the npm package) driven by playwright-core takes the screenshots of the reports
in the project's own tests. All three come from the npm registry at the exact
versions below, into `<project>/node_modules`, so a fresh machine or CI needs
nothing but Node.js and npm (Allure 2's CLI needed Java as well).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from filelock import FileLock

from rolecall.reporting import allure_run, evidence

PINS = {
    "allure": "3.18.0",
    "playwright-core": "1.56.1",
    "@sparticuz/chromium": "153.0.0",
}
# Chromium as an unprivileged, display-less, offline process: no sandbox (root in CI),
# one process, software GL, and none of the background calls a closed network refuses.
CHROMIUM_ARGS = (
    "--no-sandbox", "--no-zygote", "--single-process", "--in-process-gpu", "--use-gl=angle",
    "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-default-apps", "--disable-extensions",
)


# Allure's page template loads Google Analytics whatever ALLURE_NO_ANALYTICS says; an
# audit report opened offline (or anywhere) calls no third party, so the snippet goes.
ANALYTICS = re.compile(r'<script async src="https://www\.googletagmanager\.com/[^"]*"></script>'
                       r"\s*<script>\s*window\.dataLayer[\s\S]*?</script>")


class ToolError(Exception):
    """A tool the report needs is missing or failed; the message says how to get it."""


def project_dir() -> Path:
    """Where node_modules goes: ROLECALL_NODE_PREFIX, else the current (project) folder."""
    return Path(os.environ.get("ROLECALL_NODE_PREFIX") or Path.cwd()).resolve()


def installed_version(prefix: Path, package: str) -> str | None:
    manifest = prefix / "node_modules" / package / "package.json"
    if not manifest.is_file():
        return None
    return str(json.loads(manifest.read_text()).get("version"))


MARKER = ".rolecall-pins.json"  # in node_modules: these exact pins were installed here
_FAILED: dict[Path, ToolError] = {}  # this process: an install that failed is not retried


def ensure(prefix: Path | None = None) -> Path:
    """Install the pinned tools into `<prefix>/node_modules` once; fail fast after a failure.

    All pins are installed in one npm call: npm removes packages a later call did not
    name, so installing them one at a time would undo the previous one. The lock makes
    xdist workers wait for one install; the marker makes later calls a file read; a
    failed install is remembered for the run (this process, or the xdist run), so the
    three browser tests do not each spend minutes on the same refusal.
    """
    prefix = prefix or project_dir()
    if prefix in _FAILED:
        raise _FAILED[prefix]
    with _lock(prefix):
        if _installed(prefix):
            return prefix
        earlier = _failure_marker(prefix)
        if earlier.is_file():
            raise ToolError(f"{earlier.read_text()}\n(the install failed earlier in this run; "
                            "not retried)")
        try:
            _npm_install(prefix)
        except ToolError as exc:
            _FAILED[prefix] = exc
            earlier.write_text(str(exc))
            raise
        (prefix / "node_modules" / MARKER).write_text(json.dumps(PINS, sort_keys=True))
    return prefix


def _installed(prefix: Path) -> bool:
    marker = prefix / "node_modules" / MARKER
    if marker.is_file() and json.loads(marker.read_text()) == PINS:
        return True
    return all(installed_version(prefix, name) == version for name, version in PINS.items())


def _failure_marker(prefix: Path) -> Path:
    """A failed install, for the rest of this run: xdist workers share the run's id."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or str(os.getpid())
    digest = hashlib.sha256(f"{prefix}|{run}".encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"rolecall-node-{digest}.failed"


def _lock(prefix: Path) -> FileLock:
    """One npm install (or Chromium unpacking) at a time, across processes (xdist workers)."""
    digest = hashlib.sha256(str(prefix).encode()).hexdigest()[:12]
    return FileLock(str(Path(tempfile.gettempdir()) / f"rolecall-node-{digest}.lock"))


def _npm_install(prefix: Path) -> None:
    """`npm install` into `<prefix>/node_modules`, with the machine's npm configuration.

    `--prefix` alone would make npm read its global config from `<prefix>/etc/npmrc`
    instead of the machine's (where a corporate CA file is usually set), so the real
    global config is named explicitly. The user config (~/.npmrc), npm_config_*
    variables and NODE_EXTRA_CA_CERTS apply as they always do.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise ToolError("npm not found: install Node.js 20+ with npm (Debian: apt-get install "
                        "nodejs npm), then run the command again")
    globalconfig = _npm_config(npm, "globalconfig")
    command = [npm, "install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
               "--prefix", str(prefix), *(["--globalconfig", globalconfig] if globalconfig else []),
               *(f"{name}@{version}" for name, version in PINS.items())]
    _ping(npm, globalconfig)
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise ToolError(f"`{' '.join(command)}` failed ({done.returncode}):\n"
                        f"{done.stderr[-2000:]}\n{likely_cause(done.stderr)}")


def _npm_config(npm: str, key: str) -> str | None:
    """npm's own value of a setting, asked from a neutral folder (no project prefix)."""
    done = subprocess.run([npm, "config", "get", key], capture_output=True, text=True,
                          timeout=60, cwd=tempfile.gettempdir())
    value = done.stdout.strip()
    return value if done.returncode == 0 and value and value != "undefined" else None


def _ping(npm: str, globalconfig: str | None) -> None:
    """One quick request to the registry first: a TLS or proxy problem fails in seconds."""
    command = [npm, "ping", "--fetch-retries=0", "--fetch-timeout=30000",
               *(["--globalconfig", globalconfig] if globalconfig else [])]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=90,
                              cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        raise ToolError("the npm registry did not answer `npm ping` within 90 s; "
                        + likely_cause("ETIMEDOUT")) from None
    if done.returncode != 0:
        raise ToolError(f"`npm ping` failed: {done.stderr.strip()[-800:]}\n"
                        f"{likely_cause(done.stderr)}")


CAUSES = (  # (npm error text, the likely cause and the setting that fixes it)
    (("SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_GET_ISSUER_CERT", "CERT_", "unable to verify"),
     "npm does not trust the TLS certificate it was shown, usually a TLS-inspecting proxy's: "
     "point npm at your CA bundle (`npm config set cafile /path/to/ca.pem`, or "
     "NODE_EXTRA_CA_CERTS=/path/to/ca.pem; tox passes both through)"),
    (("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", "network"),
     "the npm registry is not reachable: set `npm config set proxy/https-proxy` (or "
     "HTTPS_PROXY) or `registry` to your mirror"),
    (("E401", "E403", "ENEEDAUTH"),
     "the registry refused the request: check the `registry` and its auth in ~/.npmrc"),
)


def likely_cause(stderr: str) -> str:
    """The likely cause of an npm failure and the setting to fix, from its error text."""
    for needles, cause in CAUSES:
        if any(needle in stderr for needle in needles):
            return f"Likely cause: {cause}."
    return "Check that the npm registry is reachable (`npm ping`) with your npm configuration."


def allure(prefix: Path | None = None) -> list[str]:
    """The Allure 3 CLI command (installed on first use); runs on Node.js alone."""
    prefix = ensure(prefix)
    node = shutil.which("node")
    if node is None:
        raise ToolError("node not found: the Allure CLI runs on Node.js 20+ (Debian: apt-get "
                        "install nodejs npm)")
    return [node, str(prefix / "node_modules" / "allure" / "cli.js")]


def chromium(prefix: Path | None = None) -> Path:
    """The headless Chromium shipped in @sparticuz/chromium, unpacked on first use."""
    prefix = ensure(prefix)
    script = ('import chromium from "@sparticuz/chromium";'
              "console.log(await chromium.executablePath());")
    module = prefix / "node_modules" / "@sparticuz" / "chromium"
    with _lock(prefix):
        done = subprocess.run(["node", "--input-type=module", "-e", script], cwd=prefix,
                              capture_output=True, text=True, timeout=300)
    path = Path(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else None
    if done.returncode != 0 or path is None or not path.is_file():
        raise ToolError(f"could not unpack Chromium from {module}: {done.stderr[-1500:]}")
    return path


HISTORY = "history.jsonl"  # in the report folder: each `rolecall report` there adds a point


def report_config(out: Path, history: Path) -> dict[str, object]:
    """Allure 3's configuration: one self-contained page, grouped as the matrix is, with history.

    The history file lives in the report folder, so regenerating the report in the
    same place (as `tox -e report` does) carries the Trend forward; the grouping
    (scenario, variant, flow) is the one matrix.html and summary.md use. The failure
    categories are this version's (a results folder may hold an older categories.json).
    """
    name = "rolecall conformance"
    return {"name": name, "output": str(out), "historyPath": str(history),
            "categories": allure_run.CATEGORIES,
            "plugins": {"awesome": {"options": {
                "singleFile": True, "reportLanguage": "en", "reportName": name,
                "groupBy": ["epic", "feature", "story"]}}}}


def generate_report(results: Path, out: Path, prefix: Path | None = None) -> Path:
    """allure-results -> one self-contained HTML file (opens from disk, no server needed)."""
    if not results.is_dir() or not any(results.glob("*-result.json")):
        raise ToolError(f"{results}: no Allure results there; run the conformance suite first "
                        "(tox -e conformance, or pytest suites --alluredir " f"{results})")
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rolecall-allure-") as work:
        # Allure writes into an empty folder of its own (it lays out a folder that holds
        # anything else, such as scenarios/, as several reports); the page is moved after.
        fresh = Path(work) / "report"
        config = Path(work) / "allurerc.json"
        config.write_text(json.dumps(report_config(fresh, out / HISTORY)))
        command = [*allure(prefix), "generate", str(results.resolve()), "--config", str(config)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=work)
        if done.returncode != 0 or not (fresh / "index.html").is_file():
            raise ToolError(f"the Allure CLI failed ({done.returncode}): "
                            f"{(done.stderr or done.stdout)[-2000:]}")
        for page in fresh.iterdir():  # index.html, summary.json, test-results.json
            shutil.move(page, out / page.name)
    index = out / "index.html"
    index.write_text(ANALYTICS.sub("", index.read_text(encoding="utf-8")), encoding="utf-8")
    evidence.write_rules_page(out)  # the report's rule links: rules.html beside index.html
    copy_scenarios(Path("scenarios"), out / "scenarios")  # its expectation-source links
    return index


def copy_scenarios(source: Path, into: Path) -> None:
    """The scenario files the report's source links point at, inside the report folder."""
    if source.is_dir():
        into.mkdir(parents=True, exist_ok=True)
        for path in source.glob("*.yaml"):
            shutil.copy2(path, into / path.name)
