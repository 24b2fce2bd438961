"""The lint step holds the house: an import cycle or an oversized module fails it.

`tox -e lint` runs lint-imports (pyproject.toml's contracts) and pylint (its
too-many-lines check, max-module-lines 500). These tests give each tool a small tree
that breaks the rule, with the project's own configuration, and watch it fail, so a
contract that was loosened or a check that was dropped cannot pass unnoticed.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _package(root: Path, modules: dict[str, str]) -> None:
    package = root / "rolecall"
    for name, text in {"__init__": "", **modules}.items():
        path = package / f"{name.replace('.', '/')}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(text)


def _acyclic_contract() -> dict[str, object]:
    contracts = PYPROJECT["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["type"] == "acyclic_siblings")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    contract = _acyclic_contract()
    ancestors = " ".join(contract["ancestors"])  # type: ignore[arg-type]
    (root / ".importlinter").write_text(
        "[importlinter]\nroot_package = rolecall\n\n[importlinter:contract:acyclic]\n"
        f"name = {contract['name']}\ntype = acyclic_siblings\nancestors = {ancestors}\n")
    lint_imports = Path(sys.executable).with_name("lint-imports")  # beside this interpreter
    return subprocess.run([str(lint_imports), "--no-cache"], cwd=root, capture_output=True,
                          text=True, env={"PYTHONPATH": str(root)})


def test_a_type_only_import_cycle_fails_the_import_contract(tmp_path: Path) -> None:
    _package(tmp_path, {
        "state": "from rolecall.realism import Realism\n",
        "realism": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                   "    from rolecall.state import State\nclass Realism: ...\n",
    })
    done = _lint_imports(tmp_path)
    assert done.returncode != 0 and "BROKEN" in done.stdout, done.stdout + done.stderr


def test_the_same_tree_without_the_cycle_keeps_it(tmp_path: Path) -> None:
    _package(tmp_path, {"state": "from rolecall.realism import Realism\n",
                        "realism": "class Realism: ...\n"})
    done = _lint_imports(tmp_path)
    assert done.returncode == 0 and "KEPT" in done.stdout, done.stdout + done.stderr


def _pylint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pylint", "--rcfile", str(ROOT / "pyproject.toml"),
                           str(path)], capture_output=True, text=True)


def test_a_module_over_500_lines_fails_lint(tmp_path: Path) -> None:
    module = tmp_path / "big.py"
    module.write_text('"""A module with two subjects."""\n' + "X = 1\n" * 500)
    done = _pylint(module)
    assert done.returncode != 0 and "too-many-lines" in done.stdout, done.stdout


def test_a_module_of_500_lines_passes(tmp_path: Path) -> None:
    module = tmp_path / "fits.py"
    module.write_text('"""A module of one subject."""\n' + "X = 1\n" * 499)
    done = _pylint(module)
    assert done.returncode == 0, done.stdout
