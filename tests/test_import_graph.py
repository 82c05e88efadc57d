"""The import graph of auditor, adapters and reference_models: no cycles, and every package imports
only the layers below it (the core, then the adapters, then the reference models, then the front).

Edges are every import statement (at module level or inside a function, `if TYPE_CHECKING:` blocks left
out) and every string that names one of our modules where code imports by name (readers tables,
reference builders, the API's lazy exports).  Importing a submodule is an edge to it, not to its package.
"""

from __future__ import annotations

import ast
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("auditor", "adapters", "reference_models")
FRONT = {"auditor", "auditor.loader", "auditor.cli", "auditor.cli_args", "auditor.__main__", "auditor.pytest_plugin", "auditor.batch"}
"""The entry points above everything: the API (`auditor.audit`), the spec loader, the CLI, the plugin, and
the batch runner (`--jobs`: each worker process calls the API)."""
NAMED = re.compile(r"^((?:auditor|adapters|reference_models)(?:\.\w+)*)(?::\w+)?$")


def module_files() -> dict[str, str]:
    found = {}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(REPO, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    parts = os.path.relpath(path, REPO)[:-3].split(os.sep)
                    found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the nodes under `if TYPE_CHECKING:`."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skipped


def imports_of(module: str, path: str, known: set[str]) -> set[str]:
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    skipped = _type_checking_only(tree)
    targets: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                targets.add(sub if sub in known else node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and NAMED.match(node.value):
            targets.add(NAMED.match(node.value).group(1))  # type: ignore[union-attr]
    return {t for t in targets if t in known and t != module}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = module_files()
    return {module: imports_of(module, path, set(files)) for module, path in files.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph, if it has any (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_no_module_imports_itself_through_others(graph):
    assert _cycle(graph) == []


def layer(module: str) -> int:
    """0 the core, 1 the adapters, 2 the reference models, 3 the front (API, loader, CLI, plugin, testing)."""
    if module in FRONT or module.startswith("auditor.testing"):
        return 3
    return {"auditor": 0, "adapters": 1, "reference_models": 2}[module.split(".")[0]]


def test_each_layer_imports_only_the_layers_below_it(graph):
    upward = sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets if layer(b) > layer(a))
    assert upward == []


def subpackage(module: str) -> str:
    """auditor.diff.match -> auditor.diff; adapters.onnx_ops -> adapters; auditor.ir -> auditor.ir."""
    parts = module.split(".")
    if parts[0] != "auditor" or len(parts) < 2:
        return parts[0]
    return ".".join(parts[:2])


def test_the_core_subpackages_do_not_import_each_other_in_a_circle(graph):
    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        packages.setdefault(subpackage(module), set()).update(subpackage(t) for t in targets if subpackage(t) != subpackage(module))
    assert _cycle(packages) == []


def test_every_package_says_what_it_owns_and_what_it_may_import():
    for module, path in module_files().items():
        if path.endswith("__init__.py"):
            with open(path, encoding="utf-8") as handle:
                doc = ast.get_docstring(ast.parse(handle.read())) or ""
            assert "Owns:" in doc and "May import:" in doc, module


def _packages() -> dict[str, str]:
    """Every package (a folder with an `__init__.py`) -> its docstring."""
    found = {}
    for module, path in module_files().items():
        if path.endswith("__init__.py"):
            with open(path, encoding="utf-8") as handle:
                found[module] = ast.get_docstring(ast.parse(handle.read())) or ""
    return found


def may_import(doc: str) -> list[str] | None:
    """The modules a package's "May import:" paragraph names before any "never"; None for "anything"."""
    paragraph = doc.partition("May import:")[2].split("\n\n")[0]
    if paragraph.strip().startswith("anything"):
        return None
    return re.findall(r"`([\w.]+)`", paragraph.partition("never")[0])


def allows(allowed: list[str], target: str) -> bool:
    """`target` is named or inside a named package; `auditor` alone is the API module, not all of the core."""
    return any(target == name or (name != "auditor" and target.startswith(f"{name}.")) for name in allowed)


def owner(module: str, packages: set[str]) -> str:
    """The innermost package whose docstring speaks for `module`."""
    parts = module.split(".")
    return next(".".join(parts[:i]) for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in packages)


def test_every_package_imports_only_what_its_docstring_says_it_may(graph):
    docs = _packages()
    wrong = []
    for module, targets in graph.items():
        package = owner(module, set(docs))
        allowed = may_import(docs[package])
        if allowed is None:
            continue
        for target in sorted(targets):
            if not (target == package or target.startswith(f"{package}.") or allows(allowed, target)):
                wrong.append(f"{module} -> {target} (not in {package}'s May import)")
    assert wrong == []


def test_the_may_import_reader_reads_what_a_docstring_says():
    doc = "Owns: x.\nMay import: the core (`auditor.ir`, `auditor.rules`), never `auditor.loader`.\n\nMore."
    assert may_import(doc) == ["auditor.ir", "auditor.rules"]
    assert may_import("Owns: all.\nMay import: anything.") is None
    assert allows(["auditor.rules"], "auditor.rules.base") and not allows(["auditor.rules"], "auditor.rulesx")
    assert allows(["auditor"], "auditor") and not allows(["auditor"], "auditor.count")


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
