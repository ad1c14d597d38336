"""The package's import direction, checked on the source: pure modules stay pure, layers point one way.

core/ imports nothing of ours outside core/, and never locust or gevent (so it is importable and
testable anywhere); reporting/ only core/; launch/ never engine/, clients/ or locust (importing
locust monkey-patches the launcher); and no module imports another in a cycle.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "load_tests"
FORBIDDEN = {
    "core": ("load_tests.engine", "load_tests.launch", "load_tests.reporting", "load_tests.clients",
             "load_tests.reference_service", "locust", "gevent"),
    "reporting": ("load_tests.engine", "load_tests.launch", "load_tests.clients", "locust", "gevent"),
    "launch": ("load_tests.engine", "load_tests.clients", "locust", "gevent"),
}  # fmt: skip


def _imports(path: Path) -> set[str]:
    """Every module a file imports at module level or inside functions (absolute names)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_layers_import_one_way() -> None:
    offenders = []
    for layer, forbidden in FORBIDDEN.items():
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            bad = sorted(m for m in _imports(path) if m.startswith(forbidden))
            if bad:
                offenders.append(f"{path.relative_to(PACKAGE)}: {', '.join(bad)}")
    assert offenders == []


def test_no_import_cycles_between_our_modules() -> None:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py") if "locust" not in p.parts and "_pb2" not in p.name}
    graph = {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


BUILD_OUTPUT_NAMES = {"target", "build", "out", "dist", "bin", "obj", "project"}  # Java, Rust, sbt, .NET ignores


def test_no_function_is_longer_than_a_screen() -> None:
    long = []
    for path in PACKAGE.rglob("*.py"):
        if "_pb2" in path.name:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > 60:
                long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert long == []


def test_no_folder_has_a_name_that_build_tool_ignore_files_hide() -> None:
    """A team that copies load_tests/ into a Maven, Cargo or sbt repository must not lose a folder to its
    standard .gitignore (the reference service once lived in target/)."""
    tracked = subprocess.run(["git", "ls-files"], cwd=PACKAGE.parent, capture_output=True, text=True, check=True)
    folders = {part for line in tracked.stdout.splitlines() for part in Path(line).parts[:-1]}
    assert tracked.stdout and not folders & BUILD_OUTPUT_NAMES


def test_no_module_is_too_long_and_every_layer_exists() -> None:
    long = [f"{p.relative_to(PACKAGE)}: {n}" for p in PACKAGE.rglob("*.py") if "_pb2" not in p.name
            and (n := len(p.read_text(encoding="utf-8").splitlines())) > 400]  # fmt: skip
    assert long == []
    assert all((PACKAGE / layer / "__init__.py").exists() for layer in ("core", "engine", "launch", "reporting"))


def test_the_pure_core_and_the_reports_type_check() -> None:
    from mypy import api

    root = PACKAGE.parent
    stdout, stderr, status = api.run(["--config-file", str(root / "pyproject.toml"), "--cache-dir", "/dev/null",
                                      str(root / "load_tests/core"), str(root / "load_tests/reporting")])  # fmt: skip
    assert status == 0, stdout + stderr
    assert "no issues found" in stdout
