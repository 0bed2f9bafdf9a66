"""The house's layering, read from the source (every import: TYPE_CHECKING and in-function too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO
from tierroute.classifier.artifacts import champion_id

SRC = REPO / "src"


def _module(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph(root: Path = SRC, package: str = "tierroute") -> dict[str, set[str]]:
    """Module -> the modules of ``package`` (under ``root``) it imports.

    Every import statement counts, wherever it stands: under ``if TYPE_CHECKING``, inside a
    function, at the top. Importing ``a.b.c`` also runs the ``__init__`` of ``a.b`` (and of
    ``a``): an edge, unless that package is one the importing module is itself inside of
    (already being imported by then).
    """
    modules = {_module(p, root): p for p in (root / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package_name = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package_name.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
        own = {*_ancestors(name), name}
        found.update(parent for target in list(found) for parent in _ancestors(target))
        graph[name] = {target for target in found if target in modules and target not in own}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle a depth-first walk meets, each as the modules round it."""
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def _imports(graph: dict[str, set[str]], source: str, target: str) -> list[str]:
    return sorted(
        f"{module} -> {imported}"
        for module, imported_set in graph.items()
        if module == source or module.startswith(source + ".")
        for imported in imported_set
        if imported == target or imported.startswith(target + ".")
    )


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("tierroute.data", "tierroute.classifier"),  # data is below the classifier
        ("tierroute.classifier.model", "tierroute.config"),  # settings come from the edge
        ("tierroute.tier_costs", "tierroute.gateway"),  # no hidden edge inside a function
        *(
            (low, high)
            for low in ("tierroute.classifier", "tierroute.data", "tierroute.store")
            for high in ("tierroute.retraining", "tierroute.reporting", "tierroute.simulation")
        ),
        *(
            (low, "tierroute.service")
            for low in (
                "tierroute.classifier",
                "tierroute.gateway",
                "tierroute.store",
                "tierroute.retraining",
                "tierroute.reporting",
                "tierroute.simulation",
                "tierroute.state",
            )
        ),
        # The state backend sits under the dispatcher: it knows breakers and limits, not calls.
        ("tierroute.state", "tierroute.gateway.dispatch"),
        ("tierroute.state", "tierroute.gateway.calls"),
    ],
)
def test_lower_layers_do_not_import_higher_ones(source: str, target: str) -> None:
    graph = import_graph()
    offending = (
        [edge for edge in _imports(graph, source, target) if not edge.endswith("-> tierroute")]
        if target == "tierroute"
        else _imports(graph, source, target)
    )
    if source == "tierroute.textfold":
        offending = sorted(graph["tierroute.textfold"])
    assert offending == []


def test_no_import_cycle_even_under_type_checking() -> None:
    assert find_cycles(import_graph()) == []


@pytest.mark.parametrize(
    ("files", "cycle"),
    [
        (  # an import only type checkers read
            {
                "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n",
                "b.py": "from pkg.a import A\n",
            },
            ["pkg.a", "pkg.b", "pkg.a"],
        ),
        (  # an import inside a function, relative
            {"a.py": "def f():\n    from . import b\n", "b.py": "import pkg.a\n"},
            ["pkg.a", "pkg.b", "pkg.a"],
        ),
        (  # through a package's __init__, which importing any of its modules runs
            {
                "a.py": "from pkg.sub.c import C\n",
                "sub/__init__.py": "from pkg.sub.d import D\n",
                "sub/c.py": "",
                "sub/d.py": "from pkg import a\n",
            },
            ["pkg.a", "pkg.sub", "pkg.sub.d", "pkg.a"],
        ),
    ],
)
def test_the_cycle_check_sees_every_kind_of_import(
    tmp_path: Path, files: dict[str, str], cycle: list[str]
) -> None:
    for name, text in {"__init__.py": "", **files}.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert find_cycles(import_graph(tmp_path, "pkg")) == [cycle]


def test_a_package_importing_its_own_modules_is_no_cycle(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("from pkg.a import A\n", encoding="utf-8")
    (tmp_path / "pkg" / "a.py").write_text("from pkg.b import B\n", encoding="utf-8")
    (tmp_path / "pkg" / "b.py").write_text("", encoding="utf-8")
    assert find_cycles(import_graph(tmp_path, "pkg")) == []


def test_the_package_edge_reads_the_models_root_from_the_environment(
    small_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tierroute

    monkeypatch.setenv("TIERROUTE_MODELS_DIR", str(small_models_dir))
    assert tierroute.load_model().model_id == champion_id(small_models_dir)
