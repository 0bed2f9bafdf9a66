"""The house's layering, read from the source (every import: TYPE_CHECKING and in-function too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO
from tierroute.classifier.artifacts import champion_id

SRC = REPO / "src"


def _module(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the tierroute modules it imports."""
    modules = {_module(p): p for p in (SRC / "tierroute").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
        graph[name] = {target for target in found if target in modules and target != name}
    return graph


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
    graph = import_graph()
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
    assert cycles == []


def test_the_package_edge_reads_the_models_root_from_the_environment(
    small_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tierroute

    monkeypatch.setenv("TIERROUTE_MODELS_DIR", str(small_models_dir))
    assert tierroute.load_model().model_id == champion_id(small_models_dir)
