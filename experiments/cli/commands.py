"""The ``onefeed`` command line: ``run``, ``check``, ``schema``, ``plot`` and extensions.

Subcommands are imported lazily, so ``onefeed --help`` stays fast. Another module adds
its command either directly (``main.add_command(cmd)``) or, better, lazily with one line
in :data:`LAZY_COMMANDS` (``name: ("module:attribute", "short help")``) or by calling
:func:`add_lazy_command`.

Every error a user can cause gets one line on stderr and exit code 2, never a
traceback: a :class:`experiments.errors.UserError` prints its message (``file:line:
dotted.path: reason``), and click's own usage errors (a bad option value, an unknown
option or command, a missing argument or directory) print ``place: reason`` in the same
style, with a pointer to ``--help``, instead of click's usage block. Ctrl-C (or SIGTERM)
exits with 130.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from experiments.cli.backend_options import backend_options
from experiments.cli.data_dir import data_dir_option
from experiments.errors import UserError

__all__ = ["LAZY_COMMANDS", "add_lazy_command", "main", "usage_error_line"]

#: Commands defined in other modules: name → ("module:attribute", short help).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "calibrate": (
        "experiments.cli.calibrate:calibrate_command",
        "Fit a calibrated world to its real log and report how close it gets.",
    ),
    "compare": ("experiments.cli.compare:compare_command", "Compare policies over seeds (CRN)."),
    "replay": (
        "experiments.replay.cli:replay_command",
        "Offline replay bench on real logs (MovieLens, Amazon).",
    ),
}

EXIT_INTERRUPTED = 130
#: Width ``onefeed list`` wraps its definitions to.
LIST_WIDTH = 100


def usage_error_line(exc: click.ClickException) -> str:
    """Click's error as one line in the project's ``place: reason`` style.

    Examples: ``--seed: 'abc' is not a valid integer (see: onefeed run --help)``,
    ``RUN_DIR: directory 'x' does not exist (see: onefeed plot --help)``.
    """
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "onefeed"
    hint = f" (see: {command} --help)" if isinstance(exc, click.UsageError) else ""
    param = getattr(exc, "param", None)
    if isinstance(exc, click.BadParameter) and param is not None:
        if isinstance(param, click.Option):
            place = max(param.opts, key=len)
        else:
            place = param.human_readable_name
        message = exc.message
        if isinstance(exc, click.MissingParameter):
            message = f"missing {param.param_type_name}"
    elif isinstance(exc, click.NoSuchOption):
        place = exc.option_name
        message = "no such option"
        if exc.possibilities:
            message += f"; did you mean {', '.join(sorted(exc.possibilities))}?"
    else:
        place, message = command, exc.format_message()
    message = " ".join(message.split()).replace(". Did you mean", "; did you mean").rstrip(".")
    if message[:1].isupper() and not message[1:2].isupper():
        message = message[0].lower() + message[1:]
    return f"{place}: {message}{hint}"


class LazyGroup(click.Group):
    """A click group with lazily imported commands and one-line error handling.

    Lazy commands' modules are imported on first use; :class:`UserError`, click's usage
    errors and Ctrl-C become one line on stderr and an exit code.
    """

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Run the command line; in standalone mode, errors are printed on one line."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as exc:
            click.echo(usage_error_line(exc), err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(result if isinstance(result, int) else 0)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in LAZY_COMMANDS:
            return command
        target, _ = LAZY_COMMANDS[cmd_name]
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List commands with their short help, without importing lazy ones."""
        rows = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                command = self.commands[name]
                if command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(formatter.width)))
            else:
                rows.append((name, LAZY_COMMANDS[name][1]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with _sigterm_as_interrupt():
                return super().invoke(ctx)
        except UserError as exc:
            for line in str(exc).splitlines() or [type(exc).__name__]:
                click.echo(line, err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (``kill``, a batch scheduler's stop) like Ctrl-C while a command runs.

    Without it the default action ends the process at once: no manifest records the
    interruption and ``compare``'s worker processes are orphaned, still running.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def add_lazy_command(name: str, target: str, short_help: str) -> None:
    """Register a subcommand defined as ``target`` (``"module:attribute"``), imported on use."""
    LAZY_COMMANDS[name] = (target, short_help)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="onefeed-sim", message="%(prog)s %(version)s")
def main() -> None:
    """OneFeed-Sim: closed-loop feed + search simulator and replay bench."""


@main.command()
@click.argument("scenario", required=False)
@click.option("--seed", type=int, default=None, help="Root seed (overrides the scenario's).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Run directory (must not exist or be empty). "
    "Default: runs/<scenario-id>-<policy>-seed<N>-<timestamp>.",
)
@click.option("--policy", default=None, help="Policy name (overrides the scenario's).")
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Continue the incomplete run in this directory from its last finished episode "
    "(instead of SCENARIO).",
)
@click.option(
    "--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal)."
)
@click.option(
    "--shards",
    type=int,
    default=1,
    show_default=True,
    help="Split every episode by users across this many worker processes (the files are "
    "those of a run in one process).",
)
@backend_options(
    backend_help="Where the shards run: processes of this machine, or Ray tasks "
    "(pip install -e '.[ray]').",
    address_help="Ray cluster to run the shards on (host:port, or 'auto'); default: a local Ray.",
)
@data_dir_option
def run(
    scenario: str | None,
    seed: int | None,
    out: Path | None,
    policy: str | None,
    resume_dir: Path | None,
    progress: bool | None,
    shards: int,
    backend: str,
    address: str | None,
) -> None:
    """Simulate a scenario and write a run directory.

    SCENARIO is a YAML file, or the name of one in the project's scenarios/ folder
    (e.g. `quickstart`). Ctrl-C stops the run: finished episodes stay readable and the
    manifest says `incomplete` (exit code 130). Every finished episode is checkpointed:
    `onefeed run --resume RUN_DIR` continues an incomplete run (stopped, killed or
    crashed) and ends with the events and metrics of an uninterrupted run.

    `--shards N` simulates every episode in N slices of the users on worker processes
    (`--backend local`) or Ray tasks (`--backend ray [--address ADDR]`); the policy
    learns between episodes in this process and its new state goes to the workers with
    the next episode. The events and metrics are those of a run in one process.
    """
    from experiments.runner.run import resume_run, run_scenario
    from experiments.runner.run_dir import command_line, default_run_dir
    from experiments.scenario import load_scenario, resolve_scenario_path, with_overrides

    if scenario is None and resume_dir is None:
        raise UserError("SCENARIO: missing argument (see: onefeed run --help)")
    if scenario is not None and resume_dir is not None:
        raise UserError("--resume: continues a run, give no SCENARIO (see: onefeed run --help)")
    if resume_dir is not None and (seed, out, policy) != (None, None, None):
        raise UserError(
            "--resume: continues the run as it was, without --seed, --out or --policy "
            "(see: onefeed run --help)"
        )
    if resume_dir is not None:
        out_dir = resume_dir
    else:
        loaded = with_overrides(load_scenario(scenario), seed=seed, policy=policy)
        out_dir = out or default_run_dir(loaded.id, loaded.policy.name, loaded.seed)
    try:
        if resume_dir is not None:
            result = resume_run(
                resume_dir, show_progress=progress, shards=shards, backend=backend,
                address=address,
            )  # fmt: skip
        else:
            result = run_scenario(
                loaded,
                out_dir,
                scenario_file=str(resolve_scenario_path(scenario)),
                command=command_line(),
                show_progress=progress,
                shards=shards,
                backend=backend,
                address=address,
            )
    except KeyboardInterrupt:
        click.echo(
            f"interrupted: finished episodes are kept in {out_dir} (manifest status: incomplete;"
            f" continue with: onefeed run --resume {out_dir})",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)
    except UserError:
        raise
    except Exception:
        if (out_dir / "manifest.json").is_file():
            click.echo(f"run failed; finished episodes are kept in {out_dir}", err=True)
        raise
    from experiments.reporting.run_summary import format_run_summary, run_summary, warmup_episodes

    click.echo(
        f"run complete: {result.run_dir} ({int(result.metrics['episode'].max()) + 1} episodes,"
        f" {result.wall_s:.1f} s)"
    )
    warmup = warmup_episodes(Path(result.run_dir))  # also for a resumed run
    summary = run_summary(result.metrics, warmup)
    last_episode = int(result.metrics["episode"].max())
    click.echo(
        format_run_summary(
            summary, result.run_dir, episodes=(warmup, last_episode), warmup_episodes=warmup
        )
    )


@main.command()
@click.argument("scenarios", nargs=-1, required=True)
def check(scenarios: tuple[str, ...]) -> None:
    """Validate SCENARIOS (paths or names) without running anything."""
    from experiments.scenario import load_scenario, resolve_scenario_path

    failed: list[str] = []
    for ref in scenarios:
        try:
            scenario = load_scenario(ref)
        except UserError as exc:
            failed.append(str(exc))
            continue
        click.echo(
            f"ok: {resolve_scenario_path(ref)}: {scenario.id}, {scenario.episodes} episodes, "
            f"policy {scenario.policy.name}, seed {scenario.seed}"
        )
    if failed:
        raise UserError("\n".join(failed))


@main.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the schema to this file (default: standard output).",
)
def schema(out: Path | None) -> None:
    """Print the JSON Schema of scenario files."""
    import json

    from experiments.atomic import atomic_write_text
    from experiments.scenario import scenario_json_schema

    text = json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(out, text)
        click.echo(f"wrote {out}", err=True)


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
def plot(run_dir: Path) -> None:
    """(Re)draw the plots and report of RUN_DIR, a run or a `compare` directory.

    Reads result files only: metrics.parquet / per_run.parquet, events and truth.
    Writes RUN_DIR/plots/*.png, RUN_DIR/report.md and the self-contained report.html.
    """
    from experiments.reporting.report import plot_directory

    paths = plot_directory(run_dir)
    n_png = sum(p.suffix == ".png" for p in paths)
    click.echo(f"wrote {n_png} plots to {run_dir / 'plots'} and {run_dir / 'report.html'}")


@main.command(name="list")
def list_registered() -> None:
    """List the registered policies, bundled scenarios and every metric a run records.

    Metrics come by family, each with its one-line definition and unit; the
    generative-model health values are those `onefeed` reports with its default model
    (the per-level ones for each of its semantic-ID levels).
    """
    import textwrap

    from experiments.metrics import available_metrics, describe_metric
    from experiments.metrics.health import health_metric_names
    from experiments.reporting.compare_report import family_heading, group_by_family
    from experiments.scenario import available_scenarios
    from policies import available_policies
    from policies.onefeed_config import SIM_MODEL_DEFAULTS

    registered = {"policies:": available_policies(), "scenarios:": available_scenarios()}
    for label, values in registered.items():
        text = f"{label:<10} " + ", ".join(values)
        click.echo(textwrap.fill(text, LIST_WIDTH, subsequent_indent=" " * 11))
    # onefeed's semantic IDs: its quantiser levels, then the collision code
    sid_levels = int(SIM_MODEL_DEFAULTS["levels"]) + 1
    names = [*available_metrics(), *health_metric_names(sid_levels)]
    click.echo(f"metrics ({len(names)}, as a run records them; formulas: docs/metrics.md):")
    width = max(len(name) for name in names)
    indent = " " * (width + 6)
    nbsp = "\u00a0"  # keeps "unit: [0, 1]" on one line
    for family, members in group_by_family(names):
        if not members:
            continue
        heading = family_heading(family)
        if family == "health":
            heading += (
                f" (onefeed's; l0-l{sid_levels - 1}: {sid_levels - 1} SID levels + collision code)"
            )
        click.echo(f"  {heading}")
        for name in members:
            info = describe_metric(name)
            text = info.definition.rstrip(".")
            text += f"; unit: {info.unit}".replace(" ", nbsp) if info.unit else ""
            lines = textwrap.wrap(text, LIST_WIDTH - len(indent), break_long_words=False)
            lines = [line.replace(nbsp, " ") for line in lines] or [""]
            click.echo(f"    {name:<{width}}  {lines[0]}")
            for more in lines[1:]:
                click.echo(indent + more)


if __name__ == "__main__":  # pragma: no cover
    main()
