"""The import rules of docs/architecture.md: direction, no cycles, no global RNG.

* ``sim`` and ``onefeed`` import no other project package; ``policies`` does not import
  ``experiments``.
* No import cycle between modules (every ``import`` statement counts, also those inside
  functions and under ``TYPE_CHECKING``: a lazy or type-only import that closes a loop is
  still a loop).
* No cycle between the subpackages of ``experiments/``.
"""

import ast
from pathlib import Path

import networkx as nx
import pytest

from experiments.project_paths import PROJECT_ROOT, SCENARIOS_DIR, SOURCE_PACKAGES

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "sim": {"policies", "onefeed", "experiments"},
    "onefeed": {"sim", "policies", "experiments"},
    "policies": {"experiments"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(p): p for package in SOURCE_PACKAGES for p in (ROOT / package).rglob("*.py")
    }


def import_graph() -> nx.DiGraph:
    """Module -> module edges for every import statement between project modules."""
    modules = project_modules()

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}" if base else anchor
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            for target in targets:
                resolved = resolve(target)
                if resolved is not None and resolved != name:
                    graph.add_edge(name, resolved)
    return graph


def cycles(graph: nx.DiGraph) -> list[list[str]]:
    return sorted(sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downstream(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}


def test_the_checker_sees_a_cycle():
    graph = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycle_between_modules():
    # issue 10's known cycles (onefeed.model <-> onefeed.self_enhance, sim.responder <->
    # sim.search_flow) are broken: no cycle is allowed any more
    graph = import_graph()
    assert graph.number_of_edges() > 300  # the graph really is the project's
    assert cycles(graph) == []


def test_no_cycle_between_experiments_subpackages():
    def unit(module: str) -> str:
        parts = module.split(".")
        return ".".join(parts[:2]) if parts[0] == "experiments" and len(parts) > 1 else parts[0]

    graph = import_graph()
    units = nx.DiGraph()
    units.add_edges_from(
        (unit(a), unit(b))
        for a, b in graph.edges
        if unit(a) != unit(b) and unit(b) != "experiments"
    )
    assert "experiments.metrics" in units and "experiments.runner" in units
    assert cycles(units) == []


def test_project_paths_point_at_the_checkout():
    assert PROJECT_ROOT == ROOT
    assert all((PROJECT_ROOT / package / "__init__.py").is_file() for package in SOURCE_PACKAGES)
    assert (SCENARIOS_DIR / "quickstart.yaml").is_file()
    assert (PROJECT_ROOT / "docs" / "architecture.md").is_file()


def test_no_global_rng_calls():
    # Built from parts so that this file does not itself contain the calls it looks for.
    pattern_calls = [f"np.random.{name}(" for name in ("seed", "rand", "randint")]
    pattern_calls.append("random" + ".seed(")
    hits = []
    for package in SOURCE_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            hits += [f"{path.name}: {p}" for p in pattern_calls if p in text]
    assert hits == []
