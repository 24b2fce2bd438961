"""The npm tools install with the machine's npm configuration, once, and fail fast and clearly.

A fake `npm` on PATH records how it is called: no registry is needed to check that
the machine's global npmrc (where a corporate CA file usually lives) is passed along
with --prefix, that a TLS refusal names the setting to fix, and that a failed install
is not retried by every test of the run.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rolecall.tools import nodetools

FAKE_NPM = """#!/bin/sh
echo "$@" >> "{log}"
case "$1 $2 $3" in
  "config get globalconfig") echo /machine/etc/npmrc; exit 0 ;;
esac
if [ "$1" = ping ]; then exit 0; fi
echo "npm error code SELF_SIGNED_CERT_IN_CHAIN" >&2
exit 1
"""


@pytest.fixture
def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "npm.log"
    npm = tmp_path / "bin" / "npm"
    npm.parent.mkdir()
    npm.write_text(FAKE_NPM.format(log=log))
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{npm.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", f"test-{tmp_path.name}")
    nodetools._FAILED.clear()
    return log


def test_a_tls_refusal_names_the_cause_and_the_setting_and_is_not_retried(
        tmp_path: Path, fake_npm: Path) -> None:
    prefix = tmp_path / "project"
    prefix.mkdir()
    with pytest.raises(nodetools.ToolError) as caught:
        nodetools.ensure(prefix)
    message = str(caught.value)
    assert "TLS-inspecting proxy" in message and "cafile" in message
    assert "NODE_EXTRA_CA_CERTS" in message
    install = next(line for line in fake_npm.read_text().splitlines() if line.startswith("install"))
    assert f"--prefix {prefix}" in install and "--globalconfig /machine/etc/npmrc" in install
    calls = len(fake_npm.read_text().splitlines())
    nodetools._FAILED.clear()  # another process of the same run (an xdist worker)
    with pytest.raises(nodetools.ToolError, match="not retried"):
        nodetools.ensure(prefix)
    assert len(fake_npm.read_text().splitlines()) == calls, "npm was called again"


def test_installed_pins_are_found_by_their_marker_without_npm(tmp_path: Path, fake_npm: Path) -> None:
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / nodetools.MARKER).write_text(
        __import__("json").dumps(nodetools.PINS))
    assert nodetools.ensure(tmp_path) == tmp_path
    assert not fake_npm.exists()


@pytest.mark.parametrize(("stderr", "words"), [
    ("npm error code SELF_SIGNED_CERT_IN_CHAIN", "cafile"),
    ("npm error code ENOTFOUND", "proxy"),
    ("npm error code E401", "auth"),
    ("something else", "npm ping"),
])
def test_the_likely_cause_is_read_from_npms_error(stderr: str, words: str) -> None:
    assert words in nodetools.likely_cause(stderr)
