"""``onefeed calibrate``: fit a calibrated scenario's world and write its calibration report."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import click

from experiments.cli.data_dir import data_dir_option
from experiments.errors import UserError

__all__ = ["calibrate_command"]


@click.command("calibrate")
@click.argument("scenario")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of the report. Default: runs/calibration-<scenario-id>-<timestamp>.",
)
@data_dir_option
def calibrate_command(scenario: str, out: Path | None) -> None:
    """Fit SCENARIO's calibrated world (`world.from_data`) and hold it against the data.

    Writes `calibration.json` (one record per statistic: statistic, distance, tolerance,
    within, and the distance of an uncalibrated synthetic world of the same size),
    `calibration.meta.json` (the fit and the runs' counts) and the figures under
    `calibration/`. The fit and the report are cached under the data directory, so a
    second call, and every run of the scenario, reuses them.
    """
    from experiments.calibration.prepare import prepare_calibrated
    from experiments.calibration.report import calibration_report
    from experiments.scenario import load_scenario

    loaded = load_scenario(scenario)
    if loaded.world.from_data is None:
        raise UserError(f"{scenario}: world.from_data: not set; the scenario is not calibrated")
    out_dir = out or Path("runs") / f"calibration-{loaded.id}-{time.strftime('%Y%m%d-%H%M%S')}"

    def say(message: str) -> None:
        click.echo(f"  {message}", err=True)

    t0 = time.process_time()
    calibrated = prepare_calibrated(loaded.world, progress=say)
    fit_cpu_s = time.process_time() - t0
    records = calibration_report(calibrated, out_dir, progress=say)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    source = "cache" if calibrated.from_cache else "fitted now"
    click.echo(
        f"{loaded.id}: {calibrated.real.n_users} real users, {calibrated.real.n_items} items, "
        f"{calibrated.real.n_topics} topics; fit {source} "
        f"({calibrated.fit.report.get('fit_cpu_s')} CPU-s when fitted; this call "
        f"{fit_cpu_s:.1f} CPU-s, peak {peak_mb:.0f} MB)"
    )
    width = max(len(r["statistic"]) for r in records)
    for r in records:
        synth = r.get("synthetic_distance")
        synth_text = "" if synth is None else f"   synthetic world {synth:.4f}"
        mark = "within" if r["within"] else "OUTSIDE"
        click.echo(
            f"  {r['statistic']:<{width}}  {r['distance']:.4f} <= {r['tolerance']:.4f}? "
            f"{mark}{synth_text}"
        )
    click.echo(f"report: {out_dir}")
    if not all(r["within"] for r in records):
        click.echo("calibration: some statistics are outside their tolerance", err=True)
        raise SystemExit(1)
