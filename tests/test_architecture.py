"""The pure core stays pure: import-linter's contracts hold, and would catch a violation."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = REPO / "pyproject.toml"
IO_PACKAGES = {"faust", "confluent_kafka", "redis", "prometheus_client"}


def lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("lint-imports")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "importlinter.cli"]
    return subprocess.run(
        [*command, "--config", "pyproject.toml", "--no-cache", "--no-logo"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


def contracts() -> list[dict]:
    return tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]


def test_import_contracts_are_kept() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    assert f"{len(contracts())} kept" in result.stdout


def test_contracts_forbid_io_packages_in_detectors_and_schemas() -> None:
    forbidding = [c for c in contracts() if c["type"] == "forbidden"]
    for package in ("detectors", "schemas"):
        forbidden = set().union(*(set(c["forbidden_modules"]) for c in forbidding
                                  if package in c["source_modules"]))
        assert IO_PACKAGES <= forbidden, f"{package} may import {IO_PACKAGES - forbidden}"
        assert "pipeline" in forbidden
    schemas_only = set().union(*(set(c["forbidden_modules"]) for c in forbidding
                                 if "schemas" in c["source_modules"]))
    assert "detectors" in schemas_only
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    # Without external packages in the graph, the I/O contract could not see redis at all.
    assert config["include_external_packages"] is True


@pytest.mark.parametrize(("module", "source"), [
    ("detectors/__init__.py", "import redis\n"),
    ("detectors/scoring.py", "from prometheus_client import Counter\n"),
    ("schemas/__init__.py", "import confluent_kafka\n"),
    ("schemas/events.py", "from detectors import scoring\n"),
])
def test_linter_catches_a_forbidden_import(tmp_path: Path, module: str, source: str) -> None:
    for package in ("schemas", "detectors", "pipeline"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "detectors" / "scoring.py").write_text("")
    (tmp_path / module).write_text(source)
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    result = lint_imports(tmp_path, env)

    assert result.returncode != 0, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    imported = source.split()[1]
    assert imported.split(".")[0] in result.stdout
    # It analysed the temporary tree (a handful of files), not the installed project.
    analysed = re.search(r"Analyzed (\d+) files", result.stdout)
    assert analysed is not None and int(analysed.group(1)) < 10, result.stdout


def test_linter_passes_the_same_tree_without_the_forbidden_import(tmp_path: Path) -> None:
    for package in ("schemas", "detectors", "pipeline"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "pipeline" / "__init__.py").write_text("import redis\nimport detectors\n")
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    result = lint_imports(tmp_path, {**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
