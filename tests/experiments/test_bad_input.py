"""Whatever a user feeds the CLI: one line on stderr, exit 2, never a traceback.

Unreadable scenario files (control characters, binary files, other encodings), click's
own usage errors, and a property-based fuzz test over mutated bundled scenarios.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments.cli import main
from experiments.errors import UserError
from experiments.scenario import SCENARIOS_DIR, Scenario, load_scenario

BUNDLED = sorted(SCENARIOS_DIR.glob("*.yaml"))


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def invoke(runner, *args):
    return runner.invoke(main, [str(a) for a in args], prog_name="onefeed")


def assert_one_line(result, pattern: str) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert re.fullmatch(pattern, lines[0]), lines[0]
    return lines[0]


UNREADABLE = {
    # name: (bytes of the file, the expected message after "<path>:")
    "NUL byte": (
        b"id: tiny-v1\nseed: 3\x00\n",
        r"2:8: not a text file: control character U\+0000 .*",
    ),
    "BEL byte": (b"id: tiny-v1\x07\n", r"1:12: not a text file: control character U\+0007 .*"),
    "escape sequence": (
        b"id: \x1b[31mred\n",
        r"1:5: not a text file: control character U\+001B .*",
    ),
    "PNG file": (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        r" not UTF-8 text \(invalid start byte at byte 0\)",
    ),
    "UTF-16 text": ("id: tiny-v1\n".encode("utf-16"), r" not UTF-8 text \(.* at byte 0\)"),
    "empty file": (b"", r"1: a scenario must be a mapping of keys .* the document is empty"),
    "deep nesting": (b"[" * 20000, r" YAML error: nested too deeply"),
}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
@pytest.mark.parametrize("command", ["check", "run"])
def test_unreadable_scenario_files(runner, tmp_path, case, command):
    data, expected = UNREADABLE[case]
    path = tmp_path / "scenario.yaml"
    path.write_bytes(data)
    assert_one_line(invoke(runner, command, path), re.escape(f"{path}:") + expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.yaml"]  # nothing written


def test_a_directory_is_not_a_scenario(runner, tmp_path):
    (tmp_path / "dir.yaml").mkdir()
    assert_one_line(invoke(runner, "check", tmp_path / "dir.yaml"), r".*dir\.yaml: not a file")


CLICK_ERRORS = {
    "bad option value": (
        ["run", "quickstart", "--seed", "abc"],
        r"--seed: 'abc' is not a valid integer \(see: onefeed run --help\)",
    ),
    "missing directory": (
        ["plot", "no-such-run"],
        r"RUN_DIR: directory 'no-such-run' does not exist \(see: onefeed plot --help\)",
    ),
    "missing argument": (["run"], r"SCENARIO: missing argument \(see: onefeed run --help\)"),
    "unknown option": (
        ["run", "quickstart", "--sed", "1"],
        r"--sed: no such option; did you mean --seed, --shards\? \(see: onefeed run --help\)",
    ),
    "unknown command": (
        ["rn"],
        r"onefeed: no such command 'rn'; did you mean 'run'\? \(see: onefeed --help\)",
    ),
    "replay option": (
        ["replay", "--chunk-size", "big"],
        r"--chunk-size: 'big' is not a valid integer range \(see: onefeed replay --help\)",
    ),
}


@pytest.mark.parametrize("case", sorted(CLICK_ERRORS))
def test_click_usage_errors_are_one_line(runner, case):
    args, pattern = CLICK_ERRORS[case]
    assert_one_line(invoke(runner, *args), pattern)


def test_help_and_version_still_exit_0(runner):
    assert invoke(runner, "--help").exit_code == 0
    assert invoke(runner, "run", "--help").exit_code == 0
    result = invoke(runner, "--version")
    assert result.exit_code == 0 and result.stdout.startswith("onefeed ")


# ------------------------------------------------------------------ fuzzing
CONTROL = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r")


def mutate(text: str, draw) -> str:
    """Apply 1-4 random edits: insert/replace/delete characters or lines, swap values."""
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "replace", "delete", "line", "value", "indent"]))
        lines = text.split("\n")
        if kind == "line" and len(lines) > 1:
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            lines.insert(j, lines.pop(i)) if draw(st.booleans()) else lines.pop(i)
            text = "\n".join(lines)
            continue
        if kind == "value":
            values = [m.end() for m in re.finditer(r": ", text)]
            if values:
                at = draw(st.sampled_from(values))
                end = text.find("\n", at)
                end = len(text) if end < 0 else end
                scalar = draw(
                    st.one_of(
                        st.sampled_from(["-1", "0", "1e999", ".nan", "~", "[]", "{}", "yes",
                                         "'x'", "[1, [2]]", "&a 1", "*a", "!!binary aGk=",
                                         "!!python/object:os.system {}", "99999999999999999999"]),
                        st.text(max_size=8),
                    )
                )  # fmt: skip
                text = text[:at] + scalar + text[end:]
            continue
        if kind == "indent":
            i = draw(st.integers(0, len(lines) - 1))
            lines[i] = draw(st.sampled_from(["", " ", "  ", "\t"])) + lines[i].lstrip()
            text = "\n".join(lines)
            continue
        pos = draw(st.integers(0, len(text)))
        char = draw(
            st.one_of(st.sampled_from(list(":-[]{}#&*!|>'\"%@`,?" + CONTROL)), st.characters())
        )
        if kind == "insert":
            text = text[:pos] + char + text[pos:]
        elif kind == "replace":
            text = text[:pos] + char + text[pos + 1 :]
        else:
            text = text[:pos] + text[pos + 1 :]
    return text


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzzed_scenarios_load_or_fail_cleanly(tmp_path, data):
    source = data.draw(st.sampled_from(BUNDLED))
    text = mutate(source.read_text(encoding="utf-8"), data.draw)
    path = tmp_path / "fuzzed.yaml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    try:
        scenario = load_scenario(path)
    except UserError as exc:  # the one acceptable failure: a message naming the place
        message = str(exc)
        assert message and "Traceback" not in message
        for line in message.splitlines():
            assert line.startswith(f"{path}:") or line.startswith(f"{path} "), line
    else:
        assert isinstance(scenario, Scenario)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_fuzzed_scenarios_through_the_cli_never_trace_back(tmp_path, data):
    source = data.draw(st.sampled_from(BUNDLED))
    text = mutate(source.read_text(encoding="utf-8"), data.draw)
    path = tmp_path / "fuzzed.yaml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code in (0, 2), (result.output, result.exception)
    assert isinstance(result.exception, SystemExit | None)
    assert "Traceback" not in result.output


def test_every_bundled_scenario_loads():
    assert {p.stem for p in BUNDLED} >= {"quickstart", "drift-v1"}
    for path in BUNDLED:
        assert isinstance(load_scenario(Path(path)), Scenario)
