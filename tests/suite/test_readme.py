"""The README's commands run as written: a newcomer copies them, so they are tested.

Every `rolecall ...` line in the README's code blocks is classified: run here against
the embedded target (the emulator recipe, the audit, the sweeper pointed at the
emulator, verify and diff on the bundle the recipe leaves), or, when it needs a real
AWS account or the npm tools, at least checked to be a command `rolecall` has. A new
README command nobody classified still gets that check, so a renamed subcommand or
a stale example fails here rather than in a newcomer's shell.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
CLI = [sys.executable, "-m", "rolecall.tools.cli"]  # what the `rolecall` console script runs
DUMMY_KEYS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def code_lines() -> list[str]:
    """Shell lines of the README's code blocks (not the YAML example), comments removed."""
    blocks = re.findall(r"^```([a-z]*)\n(.*?)^```", README, flags=re.S | re.M)
    lines = []
    for language, body in blocks:
        if language in ("", "sh", "shell", "bash"):
            lines += [re.sub(r"\s+#.*$", "", line).strip() for line in body.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def rolecall_lines() -> list[str]:
    return [line for line in code_lines() if line.startswith("rolecall ")]


def mentioned_commands() -> set[str]:
    """Every `rolecall <word>` the README names, in code blocks or inline."""
    return set(re.findall(r"`rolecall ([a-z-]+)", README)) | {
        line.split()[1] for line in rolecall_lines()} - {"--help"}


def help_text() -> str:
    done = subprocess.run([*CLI, "--help"], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "COLUMNS": "80"}, check=True)
    return done.stdout


def test_the_console_script_is_the_cli_these_tests_run() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["rolecall"] == "rolecall.tools.cli:main"


def test_the_readme_installs_rolecall_before_its_first_use() -> None:
    install = README.index("python3 -m pip install -q -e .")
    assert install < README.index("rolecall --help") < README.index("rolecall audit")
    assert install < min(README.index(line) for line in rolecall_lines())


def test_help_lists_every_subcommand_with_one_line_each() -> None:
    listed = re.findall(r"^    ([a-z-]+) {2,}\S.*$", help_text(), flags=re.M)
    refused = subprocess.run([*CLI, "no-such-command"], capture_output=True, text=True,
                             cwd=ROOT).stderr
    choices = re.search(r"choose from (.*)\)", refused)
    assert choices, f"argparse names the choices when a command is unknown: {refused}"
    assert sorted(listed) == sorted(re.findall(r"'([a-z-]+)'", choices.group(1)))
    assert "mutation" in listed


@pytest.mark.parametrize("command", sorted(mentioned_commands()))
def test_every_command_the_readme_names_exists(command: str) -> None:
    done = subprocess.run([*CLI, command, "--help"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, f"README names `rolecall {command}`: {done.stderr[-500:]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"the emulator did not listen on {port} within {seconds}s")


def run_line(line: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """One README line: leading VAR=value words become the environment, `rolecall` the CLI."""
    words = shlex.split(line)
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        name, value = words.pop(0).split("=", 1)
        env = {**env, name: value}
    if words[0] == "rolecall":
        words = [*CLI, *words[1:]]
    elif words[0] == "pytest":
        words = [sys.executable, "-m", "pytest", *words[1:]]
    return subprocess.run(words, capture_output=True, text=True, cwd=cwd, env=env, timeout=900)


def test_the_readme_recipes_run_as_written_against_the_embedded_target(tmp_path: Path) -> None:
    """The emulator recipe, then every rolecall line that needs no AWS account, in order."""
    lines = code_lines()
    start = next(line for line in lines if line.startswith("rolecall emulator --port"))
    recipe = next(line for line in lines if "pytest suites --target aws" in line)
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
           "PYTHONPATH": str(ROOT)}
    emulator = subprocess.Popen([*CLI, *shlex.split(start.rstrip("& "))[1:-1], str(port)],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    try:
        wait_for(port)
        endpoint = f"http://127.0.0.1:{port}"
        # As written, narrowed to one scenario (the README says so) and to a private folder.
        done = run_line(recipe.replace("http://127.0.0.1:4566", endpoint)
                        + f" --scenario books -q -p no:cacheprovider --evidence-dir {tmp_path}",
                        env, ROOT)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        bundle = next(tmp_path.iterdir())
        for line in rolecall_lines():
            if line.startswith("rolecall emulator --port"):
                continue
            if "..." in line:  # a live pool id the reader fills in: the command must exist
                assert run_line(f"{line.split()[0]} {line.split()[1]} --help", env, ROOT
                                ).returncode == 0
                continue
            if line.startswith("AWS_PROFILE="):  # a real account's recipe: the command must exist
                assert run_line(" ".join(line.split()[1:3]) + " --help", env, ROOT).returncode == 0
                continue
            written = re.sub(r"reports/<(old |new )?runid>", str(bundle), line)
            written = (written.replace("cdk.out/", f"{ROOT / 'fixtures/cdk/templates'}/")
                       .replace("http://127.0.0.1:4566", endpoint)
                       .replace("--out entitlements.yaml", f"--out {tmp_path / 'e.yaml'}"))
            if line.startswith("rolecall sweep"):  # an account's sweeper, pointed at the emulator
                written += f" --endpoint-url {endpoint}"
                env = {**env, **DUMMY_KEYS}
            done = run_line(written, env, ROOT)
            assert done.returncode == 0, f"README `{line}` failed:\n{done.stdout[-1500:]}" \
                                         f"{done.stderr[-1500:]}"
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)


def test_a_reader_that_closes_the_pipe_ends_the_command_quietly(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`rolecall diff A B | head`: no BrokenPipeError traceback, the shell's SIGPIPE code."""
    import io

    from rolecall.tools import cli

    read, write = os.pipe()
    os.close(read)  # the reader (head) has gone
    closed = io.TextIOWrapper(os.fdopen(write, "wb"), write_through=True)
    monkeypatch.setattr(sys, "stdout", closed)
    assert cli.main(["emulator", "--list-faults"]) == 141
    closed.close()
