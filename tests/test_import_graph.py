"""The tree's architecture, checked: no import cycles, no stage importing another stage,
libraries that never reach up into stages or the runner, and one door between
`pipeline` and the TFX side (`components.api`).

Every import counts, at module level or inside a function: a cycle hidden in a
function is still a cycle.
"""

from __future__ import annotations

import ast
import os

import pytest

from tests.helpers import REPO

PACKAGES = ("pipeline", "components")
# Pure libraries: what stages, tools and the TFX side build on. They never import
# a stage, the runner, a tool or the CLI.
LIBRARIES = (
    "pipeline.text",
    "pipeline.pretraining",
    "pipeline.io",
    "pipeline.config",
    "pipeline.layout",
    "pipeline.logs",
    "pipeline.package_data",
)
UPPER = ("pipeline.stages", "pipeline.run", "pipeline.tools", "pipeline.cli")


def project_modules() -> dict[str, str]:
    """dotted module name -> file path, for every module of the project's packages."""
    modules = {}
    for package in PACKAGES:
        for dirpath, dirnames, filenames in os.walk(os.path.join(REPO, package)):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for filename in filenames:
                if not filename.endswith(".py"):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, filename), REPO)[:-3]
                parts = rel.split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                modules[".".join(parts)] = os.path.join(dirpath, filename)
    return modules


def imports_of(path: str, module: str, modules: dict[str, str]) -> set[str]:
    """Project modules that `module` imports anywhere in its file."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    is_package = path.endswith("__init__.py")
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from package import submodule` names the submodule; `from module import name` the module
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {m: imports_of(path, m, modules) for m, path in modules.items()}


def _under(module: str, prefixes) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_no_import_cycles(graph):
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == []


def test_a_stage_never_imports_another_stage(graph):
    bad = [
        (m, d)
        for m, deps in graph.items()
        if _under(m, ["pipeline.stages"])
        for d in deps
        if _under(d, ["pipeline.stages"]) and d != "pipeline.stages"
    ]
    assert bad == []


def test_libraries_never_import_stages_runner_or_tools(graph):
    bad = [(m, d) for m, deps in graph.items() if _under(m, LIBRARIES) for d in deps if _under(d, UPPER)]
    assert bad == []


def test_the_tfx_side_imports_only_libraries(graph):
    bad = [
        (m, d)
        for m, deps in graph.items()
        if _under(m, ["components"])
        for d in deps
        if _under(d, ["pipeline"]) and not _under(d, LIBRARIES)
    ]
    assert bad == []


def test_pipeline_reaches_the_tfx_side_only_through_components_api(graph):
    bad = [
        (m, d)
        for m, deps in graph.items()
        if _under(m, ["pipeline"])
        for d in deps
        if _under(d, ["components"]) and d not in ("components", "components.api")
    ]
    assert bad == []


def test_the_check_sees_cycles_and_stage_imports(tmp_path):
    """The checker itself: a planted cycle and a planted stage-to-stage import are found."""
    modules = {"pipeline.stages.a": "", "pipeline.stages.b": "", "pipeline.text.x": ""}
    (tmp_path / "a.py").write_text("def f():\n    from pipeline.stages import b\n", encoding="utf-8")
    (tmp_path / "b.py").write_text("from pipeline.stages.a import f\n", encoding="utf-8")
    a = imports_of(str(tmp_path / "a.py"), "pipeline.stages.a", modules)
    b = imports_of(str(tmp_path / "b.py"), "pipeline.stages.b", modules)
    assert a == {"pipeline.stages.b"} and b == {"pipeline.stages.a"}


def test_no_script_edits_sys_path_to_find_the_package():
    """The package is installed (`pip install -e .` in scripts/setup.sh), so scripts import
    it as users do; a sys.path edit would hide a packaging mistake. Loading a downloaded
    third-party folder (Google's BERT code in bench_google_reference.py) is the exception."""
    offenders = []
    for folder in ("pipeline", "components", "benchmarks", "scripts", "tests"):
        for dirpath, _, names in os.walk(os.path.join(REPO, folder)):
            for name in names:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    tree = ast.parse(f.read(), path)
                for node in ast.walk(tree):
                    if (
                        isinstance(node, ast.Call)
                        and isinstance(node.func, ast.Attribute)
                        and node.func.attr in ("insert", "append")
                        and ast.unparse(node.func.value) == "sys.path"
                        and "google" not in ast.unparse(node)
                    ):
                        offenders.append(f"{os.path.relpath(path, REPO)}:{node.lineno}")
    assert offenders == []
