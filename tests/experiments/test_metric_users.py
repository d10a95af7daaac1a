import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from experiments.cli.commands import main
from experiments.metrics.per_user import breakdown, per_user_metrics, user_groups


def _rows(metric, values):
    return [
        {"user_id": u, "episode": e, "metric": metric, "value": v} for (u, e), v in values.items()
    ]


# Six users, two episodes. Sessions over the run: u0 1, u1 2, u2 3, u3 4, u4 5, u5 0
# (u5 inactive: sessions 0). Sessions with a search: u0 1/1, u1 0/2, u2 1/3, u3 1/4, u4 0/5.
SESSIONS = {(0, 0): 1, (1, 0): 1, (1, 1): 1, (2, 0): 2, (2, 1): 1, (3, 1): 4, (4, 0): 5, (5, 0): 0}
SEARCHED = {(0, 0): 1, (1, 0): 0, (1, 1): 0, (2, 0): 1, (2, 1): 0, (3, 1): 1, (4, 0): 0, (5, 0): 0}
CTR = {(0, 0): 0.1, (1, 0): 0.2, (2, 0): 0.3, (3, 1): 0.4, (4, 0): 0.5, (1, 1): 0.6}
PER_USER = pd.DataFrame(
    _rows("sessions", SESSIONS) + _rows("searched_sessions", SEARCHED) + _rows("ctr", CTR)
)


def test_activity_terciles():
    groups = user_groups(PER_USER, "activity_tercile")
    # sorted by sessions: u5 (0), u0 (1), u1 (2), u2 (3), u3 (4), u4 (5) -> pairs
    assert groups.to_dict() == {5: "low", 0: "low", 1: "mid", 2: "mid", 3: "high", 4: "high"}


def test_search_terciles_leave_out_users_without_sessions():
    groups = user_groups(PER_USER, "search_tercile")
    # shares: u1 0, u4 0, u3 1/4, u2 1/3, u0 1 (u5 has no session); 5 users -> 2, 2, 1
    assert groups.to_dict() == {1: "low", 4: "low", 3: "mid", 2: "mid", 0: "high"}


def test_breakdown_means():
    table = breakdown(PER_USER, "activity_tercile")
    ctr = table[table["metric"] == "ctr"].set_index(["group", "episode"])
    # episode 0: low {u5, u0} -> only u0 has a ctr: 0.1; mid {u1, u2}: (0.2 + 0.3) / 2
    assert ctr.loc[("low", 0), "mean"] == pytest.approx(0.1)
    assert ctr.loc[("low", 0), "n_users"] == 1
    assert ctr.loc[("mid", 0), "mean"] == pytest.approx(0.25)
    # high {u3, u4}: episode 0 u4 0.5; episode 1 u3 0.4
    assert ctr.loc[("high", 0), "mean"] == pytest.approx(0.5)
    assert ctr.loc[("high", 1), "mean"] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="unknown grouping"):
        breakdown(PER_USER, "age")


def test_per_user_metrics_from_a_run_directory(write_scenario, tiny_yaml, fake_world, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", str(write_scenario(tiny_yaml)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    per_user = per_user_metrics(out)
    assert list(per_user.columns) == ["user_id", "episode", "metric", "value"]
    metrics = pd.read_parquet(out / "metrics.parquet").set_index(["episode", "metric"])["value"]
    for episode in range(3):
        rows = per_user[per_user["episode"] == episode]
        values = rows.pivot(index="user_id", columns="metric", values="value")
        # every fake user has one session per episode: 12 users
        assert values["sessions"].sum() == 12
        # the episode's drift is the mean of the users' drifts
        assert values["interest_drift"].mean() == pytest.approx(
            metrics[(episode, "interest_drift")]
        )
        # pooled CTR equals the mean of per-user CTRs (one slate of 5 per user)
        assert values["ctr"].mean() == pytest.approx(metrics[(episode, "ctr")])
    table = breakdown(per_user, "search_tercile")
    assert set(table["group"]) == {"low", "mid", "high"}
    assert np.isfinite(table["mean"]).all()
