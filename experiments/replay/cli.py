r"""``onefeed replay``: the offline replay bench as a click command (``replay_command``).

The ``onefeed`` group loads it lazily (``experiments.cli.commands.LAZY_COMMANDS``).
Errors a user can cause (unknown dataset or model, missing data directory or file,
malformed rows, bad seeds) are :class:`~experiments.errors.UserError`\ s: the group prints
them on one line (``place: reason``, like every other command) and exits with code 2.
A model that fails prints its traceback, keeps the rows finished so far in ``--out`` and
ends the run with one line ``model '…' failed on seed …: …`` and exit code 1
(:class:`ReplayFailed`).
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

import click

from experiments.errors import UserError
from experiments.replay.bench import ModelFailed, ModelResult, run_bench
from experiments.replay.data import load_dataset
from experiments.replay.models import (
    ModelUnavailable,
    available_models,
    default_models,
    get_model_spec,
    with_prerequisites,
)
from experiments.replay.protocol import ReplayDataset
from experiments.replay.report import render_extras, render_table, write_outputs

__all__ = ["PROTOCOL_TEXT", "ReplayFailed", "replay_command"]


class ReplayFailed(UserError):
    """A model failed during the bench (exit code 1; the finished rows are kept)."""

    exit_code = 1


PROTOCOL_TEXT = (
    "Leave-one-out: last item = test target, second-to-last = validation target. "
    "Full ranking over all items; the user's history items are masked; every user is "
    "counted (test: users with ≥ 1 item, validation: ≥ 2; Beauty users all have ≥ 5). "
    "Hyper-parameters are chosen by NDCG@10 on the validation item with models fitted on "
    "the sequences before it (every fit setting of a model's grid, and every score-time "
    "setting of each fit, such as a history decay or blend weights; all values tried are "
    "in replay.json under 'tuning'); the chosen setting is refitted on the sequences up to "
    "and including the validation item and scored on the test item — the same for every "
    "model. Ties in scores are broken uniformly at random and every metric is its exact "
    "expected value under that tie-breaking. Deterministic models are run once and "
    "reported for every seed; time, CPU time and peak RSS cover all fitting and evaluation "
    "of a model. popularity-all counts held-out items (protocol check only)."
)


def _parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--seeds: expected comma-separated integers, got {text!r}") from None
    if not seeds:
        raise UserError("--seeds: no seed given")
    return seeds


def _parse_self_enhance_seeds(text: str | None, seeds: list[int]) -> list[int]:
    """``None`` → the first seed; ``"none"`` → no seed; else a comma-separated subset."""
    if text is None:
        return seeds[:1]
    if text.strip().lower() in ("none", ""):
        return []
    try:
        chosen = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UserError(
            f"--self-enhance-seeds: expected comma-separated integers or 'none', got {text!r}"
        ) from None
    missing = [s for s in chosen if s not in seeds]
    if missing:
        raise UserError(f"--self-enhance-seeds: {missing} not among --seeds {seeds}")
    return chosen


def self_enhance_note(se_seeds: list[int]) -> str:
    """The sentence printed with the self-enhancement rounds."""
    which = ", ".join(map(str, se_seeds)) if se_seeds else "none"
    return (
        f"Offline self-enhancement runs for seed(s) {which} only (--self-enhance-seeds; "
        "default: the first seed). It starts from the validation-stage model the bench "
        "has just fitted (no refit): each round shows every user generated items and one "
        "generated query, counts a click only on the user's validation item, and retrains "
        "one epoch on that feedback plus a replay of a random quarter of the users' "
        "training prefixes. The control starts from the same parameters and trains the "
        "same number of steps on replay only. Metrics are on the test item; the test item "
        "is never trained on."
    )


def _parse_models(text: str | None, ds: ReplayDataset) -> tuple[list[str], list[str]]:
    """Requested models (rows they need added), and notes about rows that were skipped."""
    if text is None:
        names, explicit = list(default_models()), False
    else:
        names, explicit = [m.strip() for m in text.split(",") if m.strip()], True
        if not names:
            raise UserError("--models: no model given")
    known = available_models()
    notes, keep = [], []
    for name in names:
        if name not in known:
            raise UserError(f"--models: unknown model {name!r}; choose from {', '.join(known)}")
        try:
            spec = get_model_spec(name)
        except ModelUnavailable as exc:
            if explicit:
                raise
            notes.append(f"skipped: {exc}")
            continue
        why = spec.not_applicable(ds) if spec.not_applicable is not None else None
        if why:
            notes.append(f"skipped {name}: {why}")
            continue
        keep.append(name)
    added = [n for n in with_prerequisites(keep) if n not in keep]
    if added:
        notes.append(f"added {', '.join(added)}: needed by another row (its chosen settings)")
    return keep, notes


def _drop_examples(res: ModelResult) -> None:
    """Remove generated-query examples (they quote item titles) from a row's extras."""
    for extra in res.extras.get("per_seed", []):
        if isinstance(extra.get("query_head"), dict):
            extra["query_head"].pop("examples", None)


def _run(
    dataset: str,
    data_dir: Path | None,
    seeds: str,
    models: str | None,
    out: Path | None,
    chunk_size: int,
    progress: bool,
    self_enhance_seeds: str | None = None,
    examples: bool = True,
) -> None:
    seed_list = _parse_seeds(seeds)
    se_seeds = _parse_self_enhance_seeds(self_enhance_seeds, seed_list)
    ds = load_dataset(dataset, data_dir)
    model_list, notes = _parse_models(models, ds)
    n_inter = sum(len(s) for s in ds.sequences)
    click.echo(
        f"{dataset}: {len(ds.sequences)} users, {ds.n_items} items, {n_inter} "
        f"interactions; models {', '.join(model_list)}; seeds {seed_list}"
    )
    text_note = f"item text: {ds.text_source or 'none'}"
    click.echo(text_note)
    notes = [text_note, *notes]
    for note in notes[1:]:
        click.echo(note)
    has_onefeed = any(m.startswith("onefeed") for m in model_list)
    se_note = self_enhance_note(se_seeds) if has_onefeed else ""
    done: list[ModelResult] = []

    def on_result(res: ModelResult) -> None:
        if not examples:
            _drop_examples(res)
        done.append(res)
        click.echo(
            f"  {res.model}: R@10 {res.mean('recall@10'):.4f} N@10 "
            f"{res.mean('ndcg@10'):.4f} ({res.time_s:.1f} s, CPU {res.cpu_s:.1f} s, "
            f"{res.peak_rss_mb:.0f} MB)"
        )
        if out is not None:  # partial results survive an interruption
            write_outputs(out, dataset, done, PROTOCOL_TEXT, notes, se_note)

    start = time.perf_counter()
    results = run_bench(
        ds,
        model_list,
        seed_list,
        chunk_size=chunk_size,
        progress=progress,
        on_result=on_result,
        report_seeds=se_seeds,
    )
    total = time.perf_counter() - start
    notes = [*notes, f"whole bench wall time: {total:.1f} s"]
    click.echo("")
    click.echo(render_table(dataset, results, notes=notes))
    extras = render_extras(results, self_enhance_note=se_note)
    if extras:
        click.echo("")
        click.echo(extras)
    if out is not None:
        write_outputs(out, dataset, results, PROTOCOL_TEXT, notes, se_note)
        click.echo(f"\nwrote {out / 'replay.md'} and {out / 'replay.json'}")


@click.command("replay")
@click.option(
    "--dataset",
    required=True,
    metavar="beauty|ml-100k|ml-1m|s3rec:NAME",
    help="Dataset to replay; s3rec:NAME reads amazon-s3rec/NAME.txt under the data directory.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Data directory (default: $ONEFEED_DATA, else ../shared/data).",
)
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds.")
@click.option(
    "--models",
    default=None,
    help="Comma-separated rows (default: every classical and OneFeed row; see the README).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write replay.md and replay.json here.",
)
@click.option(
    "--chunk-size",
    default=2048,
    show_default=True,
    type=click.IntRange(min=1),
    help="Users scored at once.",
)
@click.option(
    "--self-enhance-seeds",
    default=None,
    metavar="SEEDS|none",
    help="Seeds with OneFeed offline self-enhancement (default: the first seed).",
)
@click.option(
    "--examples/--no-examples",
    default=True,
    help="Show generated-query examples (they quote item titles; off for shareable outputs).",
)
@click.option("--progress/--no-progress", default=True, help="Show progress bars.")
def replay_command(
    dataset: str,
    data_dir: Path | None,
    seeds: str,
    models: str | None,
    out: Path | None,
    chunk_size: int,
    progress: bool,
    self_enhance_seeds: str | None,
    examples: bool,
) -> None:
    """Offline replay bench: leave-one-out, full ranking, Recall/NDCG@5/10."""
    try:
        _run(
            dataset,
            data_dir,
            seeds,
            models,
            out,
            chunk_size,
            progress,
            self_enhance_seeds,
            examples,
        )
    except ModelFailed as exc:
        cause = exc.__cause__ or exc
        click.echo("".join(traceback.format_exception(cause)).rstrip(), err=True)
        raise ReplayFailed(str(exc)) from exc
