"""``python -m experiments.validation STUDY --seeds 0-4 --out DIR``: run validation studies.

Writes each study's runs under ``DIR/<study>/runs/``, its result as ``DIR/<study>.json``
and ``DIR/<study>.md``, and its figure to ``docs/figures/``; prints the result table.
``STUDY`` = ``sensitivity`` re-runs every study in the world variants of
:mod:`experiments.validation.sensitivity` (table in ``DIR/sensitivity.md``);
``content-gap`` measures the content gap of :mod:`experiments.validation.content_gap`
in world model v1 and v2 (``DIR/content_gap.md``); ``narrowing COMPARE_DIR`` tabulates
where interests narrow in the runs of an ``onefeed compare``
(:mod:`experiments.validation.narrowing`, ``COMPARE_DIR/narrowing.md``).
Exit code 0 when every statement holds, 1 when one does not, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from experiments.errors import UserError
from experiments.runner.compare import parse_seeds
from experiments.validation import STUDIES
from experiments.validation.common import write_result


def parse_variants(specs: list[str]) -> dict[str, list[str]]:
    """``["mansoury=v1,appeal-normal"]`` -> ``{"mansoury": ["v1", "appeal-normal"]}``.

    Raises:
        UserError: If a spec is not ``STUDY=V1[,V2...]`` or names an unknown study.
    """
    out: dict[str, list[str]] = {}
    for spec in specs:
        study, sep, names = spec.partition("=")
        if not sep or not names or study not in STUDIES:
            raise UserError(
                f"{spec!r} is not STUDY=V1[,V2...] with STUDY one of {', '.join(STUDIES)}"
            )
        out[study] = [n for n in names.split(",") if n]
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the studies named on the command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m experiments.validation")
    parser.add_argument(
        "study", choices=[*STUDIES, "all", "sensitivity", "content-gap", "narrowing"]
    )
    parser.add_argument("compare_dir", nargs="?", type=Path, help="narrowing: the compare's --out")
    parser.add_argument("--seeds", default="0-4", help="a range '0-4' or a list '0,2,5'")
    parser.add_argument("--out", type=Path, default=Path("runs/validation"))
    parser.add_argument("--episodes", type=int, default=None, help="override the horizon")
    parser.add_argument(
        "--variants",
        action="append",
        default=[],
        metavar="STUDY=V1,V2",
        help="sensitivity: run only these variants of STUDY (repeatable); default: all",
    )
    args = parser.parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds)
    except UserError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.study == "narrowing":
        from experiments.validation.narrowing import write_narrowing

        if args.compare_dir is None or not (args.compare_dir / "runs").is_dir():
            print(f"narrowing needs a compare directory with runs/, got {args.compare_dir}",
                  file=sys.stderr)  # fmt: skip
            return 2
        print(write_narrowing(args.compare_dir).read_text(encoding="utf-8"))
        return 0
    if args.study == "content-gap":
        from experiments.validation.content_gap import run_content_gap

        run_content_gap(seeds, args.out)
        print((args.out / "content_gap.md").read_text(encoding="utf-8"))
        return 0
    if args.study == "sensitivity":
        from experiments.validation.sensitivity import plan_sensitivity, run_sensitivity

        try:
            variants = parse_variants(args.variants)
            plan_sensitivity(list(STUDIES), variants)
        except (UserError, KeyError) as exc:
            print(f"--variants: {exc.args[0]}", file=sys.stderr)
            return 2
        results = run_sensitivity(seeds, args.out, variants=variants)
        print((args.out / "sensitivity.md").read_text(encoding="utf-8"))
        return 0 if all(r.holds for by in results.values() for r in by.values()) else 1
    names = list(STUDIES) if args.study == "all" else [args.study]
    ok = True
    for name in names:
        module = importlib.import_module(STUDIES[name])
        kwargs = {} if args.episodes is None else {"episodes": args.episodes}
        result = module.run(seeds, args.out / name, **kwargs)
        write_result(result, args.out)
        print(result.to_markdown())
        ok = ok and result.holds
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
