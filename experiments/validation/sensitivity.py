"""Sensitivity of the validation studies to the changes of world model v2.

Each study is re-run in the world variants that can matter to it
(:data:`~experiments.validation.common.VARIANTS`: one v2 change reverted to v1 at a
time, the optional conformity term turned on, or all of v1), and every tested claim's
mean, one-sided p-value and verdict are tabulated per variant:
``DIR/sensitivity.md`` and ``.json``.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from experiments.atomic import atomic_write_text
from experiments.validation import STUDIES
from experiments.validation.common import StudyResult

__all__ = ["plan_sensitivity", "run_sensitivity", "sensitivity_markdown"]


def plan_sensitivity(
    studies: Sequence[str], variants: Mapping[str, Sequence[str]] | None = None
) -> tuple[dict[str, tuple[str, ...]], dict[str, list[str]]]:
    """The variants to run per study, and those of its ``SENSITIVITY`` left out.

    Args:
        studies: Study names (keys of :data:`~experiments.validation.STUDIES`).
        variants: Per study, the variants to run instead of the study's ``SENSITIVITY``;
            a study not named keeps its own list.

    Returns:
        ``(plan, not_run)``: ``{study: variants to run}`` and ``{study: variants left out}``.

    Raises:
        KeyError: If ``variants`` names a variant that the study does not list in its
            ``SENSITIVITY`` (the message lists those it does).
    """
    plan: dict[str, tuple[str, ...]] = {}
    not_run: dict[str, list[str]] = {}
    for name in studies:
        own = importlib.import_module(STUDIES[name]).SENSITIVITY
        plan[name] = tuple((variants or {}).get(name, own))
        unknown = [v for v in plan[name] if v not in own]
        if unknown:
            raise KeyError(
                f"{name}: unknown sensitivity variant(s) {', '.join(unknown)}; "
                f"known: {', '.join(own)}"
            )
        not_run[name] = [v for v in own if v not in plan[name]]
    return plan, not_run


def run_sensitivity(
    seeds: Sequence[int],
    out_dir: Path,
    studies: Sequence[str] = tuple(STUDIES),
    log: Callable[..., None] = print,
    variants: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, dict[str, StudyResult]]:
    """Run every study in ``v2`` and in each of its relevant variants; write the table.

    Args:
        seeds: Root seeds.
        out_dir: Runs go to ``out_dir/<study>/<variant>/``; the table to
            ``out_dir/sensitivity.{md,json}``.
        studies: Study names (keys of :data:`~experiments.validation.STUDIES`).
        log: Progress printer.
        variants: Per study, the variants to run instead of the study's ``SENSITIVITY``
            (``v2`` always runs); a study not named keeps its own list.

    Raises:
        KeyError: From :func:`plan_sensitivity`, before any run starts.

    Returns:
        ``{study: {variant: result}}``.
    """
    plan, not_run = plan_sensitivity(studies, variants)
    results: dict[str, dict[str, StudyResult]] = {}
    start = time.perf_counter()
    for name, chosen in plan.items():
        module = importlib.import_module(STUDIES[name])
        results[name] = {}
        for variant in ("v2", *chosen):
            # v2 runs are those of the main study (same directory, reused when finished).
            where = out_dir / name if variant == "v2" else out_dir / name / variant
            results[name][variant] = module.run(seeds, where, variant=variant)
            log(f"sensitivity: {name} / {variant} done", flush=True)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {
        s: {v: {**asdict(r), "holds": r.holds} for v, r in by.items()} for s, by in results.items()
    }
    data["runtime_s"] = time.perf_counter() - start  # type: ignore[assignment]
    atomic_write_text(out_dir / "sensitivity.json", json.dumps(data, indent=2) + "\n")
    atomic_write_text(
        out_dir / "sensitivity.md", sensitivity_markdown(results, len(seeds), not_run)
    )
    return results


def sensitivity_markdown(
    results: dict[str, dict[str, StudyResult]],
    n_seeds: int,
    not_run: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """One table per study: a row per tested claim, a column per variant.

    A cell is ``mean (p = ...)`` with a check mark when the claim holds (one-sided
    paired t-test over ``n_seeds`` seeds, p < 0.05, claimed sign). ``not_run`` lists,
    per study, the variants of its ``SENSITIVITY`` left out of this table.
    """
    lines = [f"# Sensitivity of the validation claims to world model v2 ({n_seeds} seeds)", ""]
    for study, by_variant in results.items():
        variants = list(by_variant)
        lines += [f"## {study}", "", "| claim | " + " | ".join(variants) + " |",
                  "|---|" + "---|" * len(variants)]  # fmt: skip
        claims = [t.claim for t in by_variant[variants[0]].tests]
        for i, claim in enumerate(claims):
            cells = []
            for v in variants:
                t = by_variant[v].tests[i]
                mark = "✓" if t.holds else "✗"
                cells.append(f"{mark} {t.mean:.3g} (p = {t.p_value:.2g})")
            lines.append(f"| {claim} | " + " | ".join(cells) + " |")
        skipped = (not_run or {}).get(study)
        if skipped:
            lines += ["", f"Variants not run: {', '.join(skipped)}."]
        lines.append("")
    return "\n".join(lines)
