"""The report's Node.js tools, pinned and installed into the project by rolecall itself.

The Allure CLI (allure-commandline, which runs on the machine's Java) turns
allure-results into the HTML report. Headless Chromium (@sparticuz/chromium, a
Chromium build shipped inside the npm package) driven by playwright-core takes
the screenshots of the reports in the project's own tests. All three come from
the npm registry at the exact versions below, into `<project>/node_modules`,
so a fresh machine or CI needs nothing but Node.js, npm and Java.
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

PINS = {
    "allure-commandline": "2.46.1",
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


# Allure 2's page template loads Google Analytics whatever ALLURE_NO_ANALYTICS says; an
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


def ensure(prefix: Path | None = None) -> Path:
    """Install the pinned tools into `<prefix>/node_modules` unless they are there already.

    All pins are installed in one npm call: npm removes packages a later call did
    not name, so installing them one at a time would undo the previous one.
    """
    prefix = prefix or project_dir()
    with _lock(prefix):
        if all(installed_version(prefix, name) == version for name, version in PINS.items()):
            return prefix
        _npm_install(prefix)
    return prefix


def _lock(prefix: Path) -> FileLock:
    """One npm install (or Chromium unpacking) at a time, across processes (xdist workers)."""
    digest = hashlib.sha256(str(prefix).encode()).hexdigest()[:12]
    return FileLock(str(Path(tempfile.gettempdir()) / f"rolecall-node-{digest}.lock"))


def _npm_install(prefix: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise ToolError("npm not found: install Node.js 20+ with npm (Debian: apt-get install "
                        "nodejs npm), then run the command again")
    command = [npm, "install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
               "--prefix", str(prefix), *(f"{name}@{version}" for name, version in PINS.items())]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise ToolError(f"`{' '.join(command)}` failed ({done.returncode}):\n"
                        f"{done.stderr[-2000:]}\ncheck that the npm registry is reachable")


def allure(prefix: Path | None = None) -> list[str]:
    """The Allure CLI command (installed on first use); needs Java 8+ on PATH."""
    prefix = ensure(prefix)
    if shutil.which("java") is None:
        raise ToolError("java not found: the Allure CLI runs on Java 8+ (Debian: apt-get install "
                        "default-jre-headless)")
    return [str(prefix / "node_modules" / "allure-commandline" / "bin" / "allure")]


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


def generate_report(results: Path, out: Path, prefix: Path | None = None) -> Path:
    """allure-results -> one self-contained HTML file (opens from disk, no server needed)."""
    if not results.is_dir() or not any(results.glob("*-result.json")):
        raise ToolError(f"{results}: no Allure results there; run the conformance suite first "
                        "(tox -e conformance, or pytest suites --alluredir " f"{results})")
    command = [*allure(prefix), "generate", str(results), "-o", str(out), "--clean",
               "--single-file", "--name", "rolecall conformance"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not (out / "index.html").is_file():
        raise ToolError(f"the Allure CLI failed ({done.returncode}): "
                        f"{(done.stderr or done.stdout)[-2000:]}")
    index = out / "index.html"
    index.write_text(ANALYTICS.sub("", index.read_text(encoding="utf-8")), encoding="utf-8")
    return index
