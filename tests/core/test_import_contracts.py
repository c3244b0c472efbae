"""The import contracts (pyproject.toml [tool.importlinter]) hold on the tree, and catch a breach.

`lint-imports` runs for real: once on the project as it is, then on scratch copies of the source
tree, each with one deliberate upward import, where it must fail and name the broken contract.
"""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
SOURCES = ("incidents", "runbooks", "postmortems", "config")


def _contract(fragment: str) -> str:
    """The name of the contract whose name contains `fragment` (so a rename fails loudly)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = [c["name"] for c in config["tool"]["importlinter"]["contracts"]]
    (name,) = [n for n in names if fragment in n]
    return name


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    # The scratch tree comes first on the path, ahead of the editable install of the real one.
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _scratch_tree(tmp_path: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "static", "templates")
    for name in SOURCES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _add_import(path: Path, line: str) -> None:
    path.write_text(f"{line}  # a deliberate breach\n" + path.read_text())


def test_the_tree_keeps_every_import_contract():
    answer = _lint_imports(ROOT)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert "0 broken" in answer.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # core reaching up into the admin: the layers contract.
        ("incidents/core/formatting.py", "import incidents.admin", "sub-packages import only"),
        # the models reaching up into an app built on incidents.
        ("incidents/models/incident.py", "import runbooks", "never the reverse"),
        # an app reaching into the project's wiring.
        ("postmortems/reports.py", "import config.urls", "only config stitches"),
    ],
)
def test_an_upward_import_breaks_its_contract(tmp_path, module, line, contract):
    tree = _scratch_tree(tmp_path)
    _add_import(tree / module, line)
    answer = _lint_imports(tree)
    output = answer.stdout + answer.stderr
    assert answer.returncode != 0, output
    assert f"{_contract(contract)} BROKEN" in output
    importer = module.removesuffix(".py").replace("/", ".")
    assert importer in output  # the report names the module that broke it
