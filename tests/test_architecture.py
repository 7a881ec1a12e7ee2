"""The code keeps its shape: import-linter's contracts hold and would catch a violation, no
import cycles, and no overlong function or module in pipeline/."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = REPO / "pyproject.toml"
IO_PACKAGES = {"faust", "confluent_kafka", "redis", "prometheus_client"}
#: The contracts about the pure core, which a tree of just the three root packages can show.
CORE_CONTRACTS = ("pure-core", "schemas-alone")

MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 500
#: Modules in pipeline/ that may be longer than MAX_MODULE_LINES because they hold data, not
#: logic ({path relative to the checkout: why}), e.g. a simulator's word lists.
DATA_ONLY_MODULES: dict[str, str] = {}


def lint_imports(cwd: Path, env: dict[str, str] | None = None,
                 only: Iterable[str] = ()) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("lint-imports")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "importlinter.cli"]
    selected = [arg for contract_id in only for arg in ("--contract", contract_id)]
    return subprocess.run(
        [*command, "pyproject.toml", *selected, "--no-cache", "--no-logo"],
        # Wide enough that no contract's name is wrapped over two lines.
        cwd=cwd, env={**(env or os.environ), "COLUMNS": "400"}, capture_output=True, text=True,
        timeout=120,
    )


def config() -> dict:
    return tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]


def contracts() -> list[dict]:
    return config()["contracts"]


def contract(contract_id: str) -> dict:
    (found,) = [c for c in contracts() if c.get("id") == contract_id]
    return found


def statuses(output: str) -> dict[str, str]:
    """{contract id: KEPT or BROKEN} from lint-imports' report."""
    flat = " ".join(output.split())
    found = {}
    for c in contracts():
        match = re.search(re.escape(" ".join(c["name"].split())) + r" (KEPT|BROKEN)", flat)
        if match:
            found[c["id"]] = match.group(1)
    return found


def skeleton_modules() -> set[str]:
    """Every first-party module the contracts name (layers, their containers, forbidden and
    source modules): import-linter refuses to check a contract whose modules are missing."""
    roots = set(config()["root_packages"])
    names = set(roots)
    for c in contracts():
        for container in c.get("containers", []):
            names.add(container)
            for layer in c.get("layers", []):
                names.update(f"{container}.{tail.strip(' ()')}" for tail in re.split(r"[|:]", layer))
        for name in [*c.get("source_modules", []), *c.get("forbidden_modules", [])]:
            if name.split(".")[0] in roots and "*" not in name:
                names.add(name)
    return names


def make_skeleton(root: Path, modules: Iterable[str]) -> None:
    """Empty packages for ``modules`` and their parents, under ``root``."""
    for name in modules:
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            package = root.joinpath(*parts[:depth])
            package.mkdir(exist_ok=True)
            (package / "__init__.py").touch()
    shutil.copy(PYPROJECT, root / "pyproject.toml")


def write_module(root: Path, module: str, source: str) -> None:
    path = root / module
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


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
    # Without external packages in the graph, the I/O contract could not see redis at all.
    assert config()["include_external_packages"] is True


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

    result = lint_imports(tmp_path, env, only=CORE_CONTRACTS)

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
    result = lint_imports(tmp_path, {**os.environ, "PYTHONPATH": str(tmp_path)},
                          only=CORE_CONTRACTS)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- pipeline's layers and the forbidden imports between them --------------------------------

#: One import per case that a contract forbids: (contract id, file, its source, importer, imported).
VIOLATIONS = [
    ("layers", "pipeline/stores/__init__.py", "import pipeline.worker\n",
     "pipeline.stores", "pipeline.worker"),                      # an adapter imports an entrypoint
    ("layers", "pipeline/settings/__init__.py", "from pipeline import kafka\n",
     "pipeline.settings", "pipeline.kafka"),                     # settings import an adapter
    ("layers", "pipeline/sim/__init__.py", "import pipeline.offline\n",
     "pipeline.sim", "pipeline.offline"),                        # one tool imports another
    ("layers", "pipeline/review/queue/__init__.py", "from pipeline.local import stack\n",
     "pipeline.review.queue", "pipeline.local"),                 # an adapter imports a tool
    ("no-cli-imports", "pipeline/review/__main__.py", "import pipeline.cli\n",
     "pipeline.review.__main__", "pipeline.cli"),                # outside every layer, still caught
    ("review-web-without-worker", "pipeline/review/web/relay.py",
     "def later():\n    from pipeline.worker import app\n",   # a function-level import counts
     "pipeline.review.web.relay", "pipeline.worker"),
    ("worker-without-local", "pipeline/worker/__init__.py", "import pipeline.local\n",
     "pipeline.worker", "pipeline.local"),
]


@pytest.fixture
def skeleton(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The package tree the contracts name, empty, and an environment that imports from it."""
    make_skeleton(tmp_path, skeleton_modules())
    return tmp_path, {**os.environ, "PYTHONPATH": str(tmp_path)}


def test_every_contract_has_an_id_and_every_new_one_a_violation_case() -> None:
    ids = [c.get("id") for c in contracts()]
    assert None not in ids and len(set(ids)) == len(ids), ids
    assert {case[0] for case in VIOLATIONS} == set(ids) - set(CORE_CONTRACTS)


@pytest.mark.parametrize(("contract_id", "module", "source", "importer", "imported"), VIOLATIONS,
                         ids=[f"{case[0]}:{case[3]}->{case[4]}" for case in VIOLATIONS])
def test_linter_catches_an_import_against_the_layers(
        skeleton: tuple[Path, dict[str, str]], contract_id: str, module: str, source: str,
        importer: str, imported: str) -> None:
    root, env = skeleton
    write_module(root, module, source)

    result = lint_imports(root, env)

    assert result.returncode != 0, result.stdout + result.stderr
    assert statuses(result.stdout)[contract_id] == "BROKEN", result.stdout
    assert f"{importer} -> {imported}" in " ".join(result.stdout.split()), result.stdout
    analysed = re.search(r"Analyzed (\d+) files", result.stdout)
    assert analysed is not None and int(analysed.group(1)) <= len(skeleton_modules()) + 2


def test_linter_passes_the_skeleton_without_a_violation(
        skeleton: tuple[Path, dict[str, str]]) -> None:
    root, env = skeleton
    # Imports the layers allow: down the layers, and between adapters.
    write_module(root, "pipeline/cli/__init__.py", "import pipeline.offline, pipeline.worker\n")
    write_module(root, "pipeline/offline/__init__.py", "import pipeline.worker, pipeline.kafka\n")
    write_module(root, "pipeline/local/__init__.py", "import pipeline.review.web\n")
    write_module(root, "pipeline/review/web/__init__.py", "import pipeline.review.queue\n")
    write_module(root, "pipeline/stores/__init__.py", "import pipeline.kafka, pipeline.settings\n")
    write_module(root, "pipeline/review/__main__.py", "import pipeline.local, pipeline.review.web\n")
    result = lint_imports(root, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(contracts())} kept" in result.stdout


def test_a_package_in_no_layer_breaks_the_layers_contract(
        skeleton: tuple[Path, dict[str, str]]) -> None:
    root, env = skeleton
    write_module(root, "pipeline/extra/__init__.py", "")
    result = lint_imports(root, env)
    assert statuses(result.stdout)["layers"] == "BROKEN", result.stdout
    assert "not listed as layers" in result.stdout and "- pipeline.extra" in result.stdout


def test_a_layer_missing_from_the_tree_is_an_error_not_a_pass(tmp_path: Path) -> None:
    make_skeleton(tmp_path, skeleton_modules() - {"pipeline.models"})
    result = lint_imports(tmp_path, {**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode != 0
    assert "pipeline.models does not exist" in " ".join(result.stdout.split()), result.stdout


# ---- no import cycles ------------------------------------------------------------------------


def strongly_connected(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of a directed graph, each sorted.

    >>> sorted(strongly_connected({"a": {"b"}, "b": {"a", "c"}, "c": set()}))
    [['a', 'b'], ['c']]
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        # Iterative, so a long import chain cannot exhaust the recursion limit.
        work = [(node, iter(sorted(edges.get(node, ()))))]
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        while work:
            current, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[current] = min(low[current], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[current])
                if low[current] == index[current]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == current:
                            break
                    components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def test_no_import_cycles_among_the_projects_modules() -> None:
    # Function-level imports count: they are in the graph like any other.
    graph = grimp.build_graph(*config()["root_packages"], cache_dir=None)
    edges = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    cycles = [c for c in strongly_connected(edges) if len(c) > 1]
    report = []
    for cycle in cycles:
        report.append("cycle: " + ", ".join(cycle))
        for importer in cycle:
            for imported in sorted(edges[importer] & set(cycle)):
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    report.append(f"  {importer}:{detail['line_number']} imports {imported}"
                                  f" ({detail['line_contents']})")
    assert not cycles, "\n".join(report)


# ---- sizes -----------------------------------------------------------------------------------


def python_modules() -> list[Path]:
    return sorted(p for p in (REPO / "pipeline").rglob("*.py") if "__pycache__" not in p.parts)


def test_the_data_only_exceptions_name_modules_that_exist() -> None:
    missing = [path for path in DATA_ONLY_MODULES if not (REPO / path).is_file()]
    assert not missing, f"DATA_ONLY_MODULES lists modules that are gone: {missing}"


def test_no_function_in_pipeline_is_longer_than_80_lines_and_no_module_longer_than_500() -> None:
    long_functions, long_modules = [], []
    for path in python_modules():
        name = str(path.relative_to(REPO))
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES and name not in DATA_ONLY_MODULES:
            long_modules.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(text, filename=name)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{name}:{node.lineno} {node.name}(): {length} lines")
    assert not long_functions and not long_modules, (
        f"functions over {MAX_FUNCTION_LINES} lines:\n  " + "\n  ".join(long_functions)
        + f"\nmodules over {MAX_MODULE_LINES} lines:\n  " + "\n  ".join(long_modules))
