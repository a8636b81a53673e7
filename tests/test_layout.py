"""The package's shape: small modules in a few folders, and imports that run one way.

Read from the source with ``ast``, so a lazy import inside a function or under
``TYPE_CHECKING`` counts as much as one at the top: a circle through any of them is still a
circle a reader has to hold in their head.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ccledger

PACKAGE = Path(ccledger.__file__).parent
MAX_ROOT_MODULES = 10
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name; a package by its own name (its __init__)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["ccledger", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()
PACKAGES = {name for name, path in MODULES.items() if path.name == "__init__.py"}


def _imports(name: str, path: Path) -> set[str]:
    """The package's modules that ``name`` imports, wherever the import statement stands."""
    package = name if name in PACKAGES else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                targets.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source)
    return {target for target in targets if target in MODULES and target != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _room(module: str, package: str) -> str | None:
    """The room of ``package`` that holds ``module``: the module itself or the subpackage it is in."""
    if not module.startswith(package + "."):
        return None
    return package + "." + module[len(package) + 1 :].split(".")[0]


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A circle in a directed graph, as the rooms along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_imports_between_the_rooms_of_each_package_run_one_way(package):
    # Within each package, a module is a room and a subpackage is one room: no circle at any
    # level (which also rules out a circle between any two modules anywhere).
    edges: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        source = _room(module, package)
        if source is None:
            continue
        for target in targets:
            room = _room(target, package)
            if room is not None and room != source and target != package:
                edges.setdefault(source, set()).add(room)
    assert _cycle(edges) is None


def test_the_package_root_holds_few_modules_and_the_rest_live_in_folders():
    root = [name for name in MODULES if name.count(".") == 1 and name not in PACKAGES]
    folders = [name for name in PACKAGES if name.count(".") == 1]
    assert len(root) <= MAX_ROOT_MODULES, sorted(root)
    assert len(folders) >= 4, sorted(folders)


@pytest.mark.parametrize("package", sorted(PACKAGES - {"ccledger"}))
def test_a_subpackage_face_is_a_docstring_and_nothing_else(package):
    # `ccledger index` and the statusline import only what they need: a re-export in a face
    # would load its module (and what that imports) for everyone passing through.
    body = ast.parse(MODULES[package].read_text(encoding="utf-8")).body
    assert len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    assert isinstance(body[0].value.value, str) and body[0].value.value.strip()


def test_no_module_is_long():
    lengths = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}
    assert {name: n for name, n in lengths.items() if n > MAX_MODULE_LINES} == {}


def test_no_function_is_long():
    long = {}
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long[f"{name}.{node.name}"] = length
    assert long == {}
