"""Helpers of command-line tests: invoking ``onefeed`` and checking one-line errors."""

from __future__ import annotations

from click.testing import CliRunner, Result

from experiments.cli.commands import main


def invoke(runner: CliRunner, *args: object) -> Result:
    """Run ``onefeed ARGS`` in ``runner`` (arguments stringified)."""
    return runner.invoke(main, [str(a) for a in args], prog_name="onefeed")


def assert_one_line(result: Result, fragment: str) -> str:
    """The command exited 2 with one line on stderr containing ``fragment``, no traceback."""
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0], lines[0]
    return lines[0]
