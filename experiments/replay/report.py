"""Tables and files of the replay bench: printed table, ``replay.md``, ``replay.json``.

Our rows are put beside the published rows of DESIGN.md section 8 (Beauty only); the
credit section gives ``onefeed`` minus every other row, paired per user
(:mod:`experiments.replay.credit`); model extras (OneFeed's query head, beam recall,
candidate shares, self-enhancement rounds, timings) follow. Files are written
atomically (temporary file in the same directory, then rename).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from experiments.atomic import atomic_write_text
from experiments.replay.bench import METRIC_NAMES, ModelResult, relative_gap
from experiments.replay.credit import credit_table

__all__ = [
    "PUBLISHED",
    "protocol_check",
    "render_credit",
    "render_extras",
    "render_table",
    "result_records",
    "write_outputs",
]

#: Published Beauty rows (DESIGN.md section 8): name → (R@5, N@5, R@10, N@10), None = n/a.
PUBLISHED: dict[str, dict[str, tuple[float | None, ...]]] = {
    "beauty": {
        "Popularity (S3-Rec)": (0.0080, 0.0044, 0.0152, 0.0068),
        "SASRec": (0.0387, 0.0249, 0.0605, 0.0318),
        "S3-Rec": (0.0387, 0.0244, 0.0647, 0.0327),
        "TIGER": (0.0454, 0.0321, 0.0648, 0.0384),
        "SASRec full-CE": (None, None, 0.0921, 0.0531),
    }
}


def protocol_check(dataset: str, results: Sequence[ModelResult]) -> dict[str, Any] | None:
    """Compare ``popularity-all`` with the published popularity row (Beauty only).

    The check passes when all four metrics, rounded to the published 4 decimals, equal
    the published values exactly.

    Returns:
        ``{"published", "measured", "relative_gap", "passed"}`` or ``None``.
    """
    pub = PUBLISHED.get(dataset, {}).get("Popularity (S3-Rec)")
    row = next((r for r in results if r.model == "popularity-all"), None)
    if pub is None or row is None:
        return None
    out: dict[str, Any] = {"published": {}, "measured": {}, "relative_gap": {}}
    for metric, value in zip(METRIC_NAMES, pub, strict=True):
        if value is not None:
            out["published"][metric] = value
            out["measured"][metric] = row.mean(metric)
            out["relative_gap"][metric] = relative_gap(row.mean(metric), value)
    out["passed"] = all(
        round(out["measured"][m], 4) == out["published"][m] for m in out["published"]
    )
    return out


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return repr(obj)


def result_records(dataset: str, results: Sequence[ModelResult]) -> list[dict[str, Any]]:
    """The ``replay.json`` records: means over seeds, per-seed values, tuning, resources.

    Returns:
        One record per model with keys ``dataset, model, seeds, recall@5, ndcg@5,
        recall@10, ndcg@10, std, per_seed, params, valid_ndcg@10, tuning, time_s, cpu_s,
        peak_rss_mb, seed_time_s, extras`` (plus ``protocol_check`` on ``popularity-all``
        and ``credit`` — paired differences to every other row — on ``onefeed``).
    """
    check = protocol_check(dataset, results)
    credit = [d.as_dict() for d in credit_table(results)]
    records = []
    for r in results:
        rec: dict[str, Any] = {"dataset": dataset, "model": r.model, "seeds": list(r.seeds)}
        rec.update({m: r.mean(m) for m in METRIC_NAMES})
        rec["std"] = {m: r.std(m) for m in METRIC_NAMES}
        rec["per_seed"] = [{"seed": s, **m} for s, m in zip(r.seeds, r.per_seed, strict=True)]
        rec["params"] = r.params
        rec["valid_ndcg@10"] = r.valid
        rec["tuning"] = r.tuning
        rec["time_s"] = r.time_s
        rec["cpu_s"] = r.cpu_s
        rec["peak_rss_mb"] = r.peak_rss_mb
        rec["seed_time_s"] = list(r.seed_time_s)
        rec["extras"] = r.extras.get("per_seed", [])
        if r.model == "popularity-all" and check is not None:
            rec["protocol_check"] = check
        if r.model == "onefeed" and credit:
            rec["credit"] = credit
        records.append(_jsonable(rec))
    return records


def _fmt(mean: float | None, std: float | None = None) -> str:
    if mean is None:
        return "—"
    return f"{mean:.4f}" if not std else f"{mean:.4f}±{std:.4f}"


def _setting_text(params: list[dict]) -> str:
    texts = []
    for p in params:
        parts = {**p.get("fit", {}), **p.get("score", {})} if "fit" in p else p
        texts.append(json.dumps(parts, sort_keys=True) if parts else "")
    uniq = list(dict.fromkeys(texts))
    return "; ".join(t for t in uniq if t)


def _table(header: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return lines + ["| " + " | ".join(row) + " |" for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    return lines + ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]


def render_table(
    dataset: str,
    results: Sequence[ModelResult],
    *,
    markdown: bool = False,
    notes: Sequence[str] = (),
) -> str:
    """Our rows beside the published ones, with time, CPU time and memory per model.

    Args:
        dataset: Dataset name (published rows exist for ``beauty``).
        results: Measured rows.
        markdown: Markdown table instead of aligned text.
        notes: Lines appended under the table (e.g. skipped models).

    Returns:
        The table as text.
    """
    header = ["model", "source", "R@5", "N@5", "R@10", "N@10", "seeds"]
    header += ["time (s)", "CPU (s)", "peak RSS (MB)", "chosen setting"]
    rows: list[list[str]] = []
    for name, values in PUBLISHED.get(dataset, {}).items():
        rows.append([name, "published", *(_fmt(v) for v in values), "", "", "", "", ""])
    for r in results:
        setting = _setting_text(r.params).replace("|", "/")
        rows.append(
            [
                r.model,
                "this bench",
                *(_fmt(r.mean(m), r.std(m)) for m in METRIC_NAMES),
                ",".join(map(str, r.seeds)),
                f"{r.time_s:.1f}",
                f"{r.cpu_s:.1f}",
                f"{r.peak_rss_mb:.0f}",
                setting,
            ]
        )
    lines = _table(header, rows, markdown)
    check = protocol_check(dataset, results)
    if check is not None:
        values = ", ".join(
            f"{m} {check['measured'][m]:.4f} vs {check['published'][m]:.4f}"
            for m in check["published"]
        )
        verdict = "PASS" if check["passed"] else "FAIL"
        lines += [
            "",
            f"Protocol check (popularity-all equals the published popularity row to 4 "
            f"decimals): {verdict} — {values}",
        ]
    lines += [("" if i else "\n") + n for i, n in enumerate(notes)]
    return "\n".join(lines)


def render_credit(results: Sequence[ModelResult], *, markdown: bool = False) -> str:
    """``onefeed`` minus every other row, paired per user (empty without ``onefeed``)."""
    diffs = credit_table(results)
    if not diffs:
        return ""
    rows = []
    for d in diffs:
        star = "*" if d.excludes_zero else ""
        rows.append(
            [
                d.b,
                d.metric,
                f"{d.mean:+.4f}{star}",
                f"[{d.low:+.4f}, {d.high:+.4f}]",
                ", ".join(f"{v:+.4f}" for v in d.per_seed),
                str(d.n_users),
            ]
        )
    head = "onefeed minus each row, paired per user (95% t-interval over users; * excludes 0)"
    title = f"## {head}" if markdown else f"{head}:"
    header = ["other row", "metric", "difference", "95% interval", "per seed", "users"]
    return "\n".join([title, "", *_table(header, rows, markdown)])


def _num(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "—"


def _render_query_head(out: list[str], entries: list[tuple[int, Any]], markdown: bool) -> None:
    rows = []
    for seed, q in entries:
        if "not_applicable" in q:
            rows.append([str(seed), f"not applicable: {q['not_applicable']}", "", "", "", ""])
            continue
        gain_ci = q.get("expansion_gain_ci95") or [None, None]
        rows.append(
            [
                str(seed),
                _num(q.get("query_hit@10")),
                _num(q.get("model_recall")),
                _num(q.get("merged_recall")),
                f"{_num(q.get('expansion_gain'))} [{_num(gain_ci[0])}, {_num(gain_ci[1])}]",
                _num(q.get("distinct_query_share"), 3),
            ]
        )
    budget = next((q.get("budget") for _, q in entries if "budget" in q), "B")
    out += _table(
        [
            "seed",
            "Query-Hit@10",
            f"model top {budget}, recall",
            f"with query results, recall@{budget}",
            "expansion gain [95%]",
            "distinct queries",
        ],
        rows,
        markdown,
    )
    examples = next((q.get("examples") for _, q in entries if q.get("examples")), None)
    if examples:
        out += ["", f"Generated query examples (seed {entries[0][0]}):", ""]
        out += _table(
            ["last item in history", "generated query", "held-out item", "hit"],
            [
                [
                    str(e.get("last_item", "")).replace("|", "/"),
                    f"`{e.get('query', '')}`" if markdown else str(e.get("query", "")),
                    str(e.get("target", "")).replace("|", "/"),
                    "yes" if e.get("hit") else "no",
                ]
                for e in examples
            ],
            markdown,
        )


def _render_curve(out: list[str], rounds: list[dict[str, Any]], markdown: bool) -> None:
    rows = []
    for row in rounds:
        fb, ct = row.get("feedback", {}), row.get("control", {})
        rows.append(
            [
                str(row.get("round")),
                _num(fb.get("recall@10")),
                _num(fb.get("ndcg@10")),
                _num(ct.get("recall@10")),
                _num(ct.get("ndcg@10")),
                str(row.get("feedback_positives", "")),
                str(row.get("control_positives", "")),
                _num(row.get("time_s"), 1),
            ]
        )
    out += _table(
        [
            "round",
            "feedback R@10",
            "feedback N@10",
            "control R@10",
            "control N@10",
            "feedback positives",
            "control positives",
            "time (s)",
        ],
        rows,
        markdown,
    )


def _render_scalars(out: list[str], entries: list[tuple[int, Any]], markdown: bool) -> None:
    keys = list(dict.fromkeys(k for _, v in entries for k in v))
    rows = [[str(seed), *(_num(v.get(k), 4) for k in keys)] for seed, v in entries]
    out += _table(["seed", *keys], rows, markdown)


def render_extras(
    results: Sequence[ModelResult],
    *,
    markdown: bool = False,
    self_enhance_note: str = "",
) -> str:
    """Credit, query head, beam recall, candidate shares, self-enhancement, timings.

    Args:
        results: Measured rows.
        markdown: Markdown headings and tables instead of plain text.
        self_enhance_note: Sentence describing how self-enhancement was run.

    Returns:
        The text (empty when there is nothing to show).
    """
    out: list[str] = []
    credit = render_credit(results, markdown=markdown)
    if credit:
        out += ["", credit]

    def heading(text: str) -> None:
        out.append("")
        out.append(f"## {text}" if markdown else f"{text}:")
        out.append("")

    for r in results:
        per_seed = r.extras.get("per_seed", [])

        def entries(key: str, per_seed: list = per_seed) -> list[tuple[int, Any]]:
            return [(p["seed"], p[key]) for p in per_seed if key in p]

        if qh := entries("query_head"):
            heading(f"{r.model}: query head (test-stage model, test item as target)")
            _render_query_head(out, qh, markdown)
        for key, title in (
            ("beam_recall", "beam recall (target among the SID beam's items) by beam width"),
            ("dense_recall", "dense-head recall (target in the dense top-N) by N"),
            ("shares", "where the top 10 come from (candidate sources) and what they hit"),
        ):
            if values := entries(key):
                heading(f"{r.model}: {title}")
                _render_scalars(out, values, markdown)
        for seed, rounds in entries("self_enhancement"):
            heading(f"{r.model}: offline self-enhancement (seed {seed})")
            if self_enhance_note:
                out += [self_enhance_note, ""]
            _render_curve(out, rounds, markdown)
        ran = {s for s, t in zip(r.seeds, r.seed_time_s, strict=False) if t > 0}
        timings = [(s, t) for s, t in entries("timing") if s in ran]  # not reused runs
        if timings and any(len(t) > 1 for _, t in timings):
            heading(f"{r.model}: wall time per seed (s)")
            _render_scalars(out, timings, markdown)
    return "\n".join(out).lstrip("\n")


def write_outputs(
    out_dir: Path,
    dataset: str,
    results: Sequence[ModelResult],
    preamble: str = "",
    notes: Sequence[str] = (),
    self_enhance_note: str = "",
) -> None:
    """Write ``replay.md`` and ``replay.json`` into ``out_dir`` (atomically).

    Args:
        out_dir: Output directory (created if needed).
        dataset: Dataset name.
        results: Measured rows.
        preamble: Markdown text put above the table (protocol description).
        notes: Lines under the table.
        self_enhance_note: How offline self-enhancement was run (shown with its rounds).
    """
    records = result_records(dataset, results)
    md = (
        f"# Replay bench — {dataset}\n\n{preamble}\n\n"
        + render_table(dataset, results, markdown=True, notes=notes)
        + "\n"
    )
    extras = render_extras(results, markdown=True, self_enhance_note=self_enhance_note)
    if extras:
        md += "\n" + extras + "\n"
    atomic_write_text(out_dir / "replay.json", json.dumps(records, indent=2) + "\n")
    atomic_write_text(out_dir / "replay.md", md)
