"""The code's shape is checked by the suite: the import contract (import-linter, `.importlinter`), no
`except ImportError` around project code, and ruff's lint and format checks."""

from __future__ import annotations

import ast
import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cartportal", "segments", "predictions", "interventions")
BIN = Path(sys.executable).parent
# Core modules outside the contract's source list on purpose: the composition layer and the URL routing.
NOT_CORE = {"portal", "urls"}


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache", "--config", str(root / ".importlinter")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_import_contract_is_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_core_module_is_under_the_contract():
    """A new module of the core must join the contract's source list (or it would escape the check)."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    sources = set(config["importlinter:contract:core"]["source_modules"].split())
    present = {
        f"cartportal.{p.stem}"
        for p in (ROOT / "cartportal").iterdir()
        if p.stem not in NOT_CORE | {"__init__", "__pycache__", "migrations"}
        and (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))
    }
    assert present - sources == set()


def _copy_of_the_code(tmp_path: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


@pytest.mark.parametrize(
    ("module", "forbidden", "contract"),
    [
        ("predictions/selectors.py", "from interventions import selectors as _forbidden", "Domains depend downwards"),
        ("predictions/tasks.py", "import segments.tasks as _forbidden", "Domains depend downwards"),
        ("segments/audiences/scoring.py", "import interventions.selectors as _forbidden", "Domains depend downwards"),
        ("cartportal/access.py", "import predictions.models as _forbidden", "The core imports no domain"),
        ("cartportal/pages/rollups.py", "import cartportal.portal.views as _forbidden", "The core imports no domain"),
        ("segments/views.py", "from cartportal.portal import views as _forbidden", "Domains never import"),
    ],
)
def test_a_forbidden_import_breaks_the_contract(tmp_path, module, forbidden, contract):
    root = _copy_of_the_code(tmp_path)
    target = root / module
    target.write_text(target.read_text() + f"\n{forbidden}  # noqa\n")
    result = lint_imports(root)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN") or " BROKEN (" in line]
    assert any(line.startswith(contract) for line in broken), result.stdout
    assert module.removesuffix(".py").replace("/", ".") in result.stdout


def _guards_an_import(handler: ast.ExceptHandler) -> bool:
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in names)


def test_no_import_is_hidden_behind_except_import_error():
    found = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.ExceptHandler) and node.type is not None and _guards_an_import(node):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "ruff"), *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=os.environ
    )


def test_ruff_lint_passes():
    result = _ruff("check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied():
    result = _ruff("format", "--check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr
