"""The packages import each other in one direction only (docs/ARCHITECTURE.md).

Every ``import`` and ``from ... import`` in every module is read with ``ast`` (also the ones inside
functions), so a lazy import cannot slip past the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PROJECT = ("app", "audio", "bench", "benchkit", "dsp", "models", "tests", "training")

ALLOWED = {
    "dsp": set(),
    "models": {"dsp"},
    "audio": {"dsp", "models"},
    "training": {"dsp", "models"},
    "app": {"audio", "dsp", "models", "training"},
    "benchkit": {"audio", "dsp", "models"},
    "bench": {"audio", "benchkit", "dsp", "models", "training"},
}
"""Which other project packages each package may import (tests/ may import anything)."""


def imported_packages(path: Path) -> dict[str, int]:
    """Project packages ``path`` imports (absolute imports), each with the first line it does so."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in PROJECT:
                found.setdefault(top, node.lineno)
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no modules found in {package}/"
    allowed = ALLOWED[package] | {package}
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {top}"
        for path in files
        for top, line in imported_packages(path).items()
        if top not in allowed
    ]
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import numpy\n\ndef f():\n    from audio.sola import Sola\n    import app.gui\n")
    assert imported_packages(module) == {"audio": 4, "app": 5}
