"""The layers of DESIGN.md are enforced: import-linter (the contracts in pyproject.toml, run by
scripts/test) passes on the tree and fails the build on a forbidden import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).parent / "lint-imports"


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    # the copy in `tree` is imported instead of the checkout: it comes first on the path
    return subprocess.run(
        [str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def copy_of_the_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("ivr", "routing"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def add_import(module: Path, line: str) -> None:
    module.write_text(module.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_the_tree_keeps_its_layers(tmp_path: Path) -> None:
    done = lint(copy_of_the_tree(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken." in done.stdout


def test_the_store_importing_the_call_layer_breaks_the_build(tmp_path: Path) -> None:
    tree = copy_of_the_tree(tmp_path)
    add_import(tree / "ivr" / "store" / "db.py", "from ivr.calls import records  # noqa")
    done = lint(tree)
    assert done.returncode != 0
    assert "ivr.store is not allowed to import ivr.calls" in done.stdout


@pytest.mark.parametrize("library", ["sqlalchemy", "aiohttp", "subprocess"])
def test_io_in_the_pure_flow_core_breaks_the_build(tmp_path: Path, library: str) -> None:
    tree = copy_of_the_tree(tmp_path)
    add_import(tree / "ivr" / "flow" / "interpreter.py", f"import {library}  # noqa")
    done = lint(tree)
    assert done.returncode != 0
    assert f"ivr.flow is not allowed to import {library}" in done.stdout
