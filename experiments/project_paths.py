"""Where the project's own files live (the checkout holding ``experiments/``).

One place for paths that depend on this file's location, so moving a module never
silently points it at a missing folder.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DOCS_DIR", "PROJECT_ROOT", "SCENARIOS_DIR", "SOURCE_PACKAGES"]

#: The project root: the directory holding ``sim/``, ``policies/``, ``onefeed/``, ...
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: The bundled scenario files; bare scenario names are looked up here.
SCENARIOS_DIR = PROJECT_ROOT / "scenarios"
#: The project's documentation.
DOCS_DIR = PROJECT_ROOT / "docs"
#: The project's Python packages.
SOURCE_PACKAGES = ("sim", "policies", "onefeed", "experiments")
