"""The direction of imports (DESIGN.md §2): experiments → policies → onefeed; sim is a leaf."""

import ast
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downstream(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}


def test_no_global_rng_calls():
    # Built from parts so that this file does not itself contain the calls it looks for.
    pattern_calls = [f"np.random.{name}(" for name in ("seed", "rand", "randint")]
    pattern_calls.append("random" + ".seed(")
    hits = []
    for package in ("sim", "policies", "onefeed", "experiments"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            hits += [f"{path.name}: {p}" for p in pattern_calls if p in text]
    assert hits == []
