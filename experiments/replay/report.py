"""Tables and files of the replay bench: printed table, ``replay.md``, ``replay.json``.

Our rows are put beside the published rows of DESIGN.md section 8 (Beauty only).
Files are written atomically (temporary file in the same directory, then rename).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from experiments.atomic import atomic_write_text
from experiments.replay.bench import METRIC_NAMES, ModelResult, relative_gap

__all__ = [
    "PROTOCOL_TOLERANCE",
    "PUBLISHED",
    "protocol_check",
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
#: ``popularity-all`` must land within this relative gap of the published popularity row.
PROTOCOL_TOLERANCE = 0.05


def protocol_check(dataset: str, results: Sequence[ModelResult]) -> dict[str, Any] | None:
    """Compare ``popularity-all`` with the published popularity row (Beauty only).

    Returns:
        ``{"published": …, "measured": …, "relative_gap": …, "passed": bool}`` or ``None``.
    """
    pub = PUBLISHED.get(dataset, {}).get("Popularity (S3-Rec)")
    row = next((r for r in results if r.model == "popularity-all"), None)
    if pub is None or row is None:
        return None
    out: dict[str, Any] = {"published": {}, "measured": {}, "relative_gap": {}}
    for metric, value in zip(METRIC_NAMES, pub, strict=True):
        if metric.endswith("@10") and value is not None:
            out["published"][metric] = value
            out["measured"][metric] = row.mean(metric)
            out["relative_gap"][metric] = relative_gap(row.mean(metric), value)
    out["tolerance"] = PROTOCOL_TOLERANCE
    out["passed"] = all(g <= PROTOCOL_TOLERANCE for g in out["relative_gap"].values())
    return out


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if hasattr(obj, "__dict__"):
        return _jsonable(vars(obj))
    return repr(obj)


def result_records(dataset: str, results: Sequence[ModelResult]) -> list[dict[str, Any]]:
    """The ``replay.json`` records: means over seeds, per-seed values, std, time, memory.

    Returns:
        One record per model with keys ``dataset, model, seeds, recall@5, ndcg@5,
        recall@10, ndcg@10, std, per_seed, params, valid_ndcg@10, tuning, time_s,
        peak_rss_mb``
        (plus ``query_head`` / ``self_enhancement`` from the OneFeed adapter and
        ``protocol_check`` on ``popularity-all``, when available).
    """
    check = protocol_check(dataset, results)
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
        rec["peak_rss_mb"] = r.peak_rss_mb
        rec["seed_time_s"] = list(r.seed_time_s)
        for sub in r.extras.get("per_seed", []):
            for key in ("query_head", "self_enhancement", "timing"):
                if key in sub:
                    rec.setdefault(key, []).append({"seed": sub["seed"], "value": sub[key]})
        if r.model == "popularity-all" and check is not None:
            rec["protocol_check"] = check
        records.append(_jsonable(rec))
    return records


def _fmt(mean: float | None, std: float | None = None) -> str:
    if mean is None:
        return "—"
    return f"{mean:.4f}" if not std else f"{mean:.4f}±{std:.4f}"


def render_table(
    dataset: str,
    results: Sequence[ModelResult],
    *,
    markdown: bool = False,
    notes: Sequence[str] = (),
) -> str:
    """Our rows beside the published ones, with time and memory per model.

    Args:
        dataset: Dataset name (published rows exist for ``beauty``).
        results: Measured rows.
        markdown: Markdown table instead of aligned text.
        notes: Lines appended under the table (e.g. skipped models).

    Returns:
        The table as text.
    """
    header = [
        "model",
        "source",
        "R@5",
        "N@5",
        "R@10",
        "N@10",
        "seeds",
        "time (s)",
        "peak RSS (MB)",
        "params",
    ]
    rows: list[list[str]] = []
    for name, values in PUBLISHED.get(dataset, {}).items():
        rows.append([name, "published", *(_fmt(v) for v in values), "", "", "", ""])
    for r in results:
        params = "; ".join(sorted({json.dumps(p, sort_keys=True) for p in r.params}))
        rows.append(
            [
                r.model,
                "this bench",
                *(_fmt(r.mean(m), r.std(m)) for m in METRIC_NAMES),
                ",".join(map(str, r.seeds)),
                f"{r.time_s:.1f}",
                f"{r.peak_rss_mb:.0f}",
                params if params != "{}" else "",
            ]
        )
    lines: list[str] = []
    if markdown:
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join("---" for _ in header) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    else:
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
        lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    check = protocol_check(dataset, results)
    if check is not None:
        gaps = ", ".join(
            f"{m} {check['measured'][m]:.4f} vs {check['published'][m]:.4f} ({100 * g:.1f}%)"
            for m, g in check["relative_gap"].items()
        )
        verdict = "PASS" if check["passed"] else "FAIL"
        lines += [
            "",
            f"Protocol check (popularity-all vs published popularity, tolerance "
            f"{100 * PROTOCOL_TOLERANCE:.0f}%): {verdict} — {gaps}",
        ]
    lines += [("" if i else "\n") + n for i, n in enumerate(notes)]
    return "\n".join(lines)


def _num(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "—"


def render_extras(
    results: Sequence[ModelResult],
    *,
    markdown: bool = False,
    self_enhance_note: str = "",
) -> str:
    """Query-head metrics, query examples and self-enhancement rounds of adapter models.

    Args:
        results: Measured rows (only those with adapter extras are shown).
        markdown: Markdown headings and tables instead of plain text.
        self_enhance_note: Sentence describing how self-enhancement was run.

    Returns:
        The text (empty when no row has extras).
    """
    out: list[str] = []

    def table(header: list[str], rows: list[list[str]]) -> None:
        if markdown:
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "|".join("---" for _ in header) + "|")
            out.extend("| " + " | ".join(r) + " |" for r in rows)
        else:
            widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
            out.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
            out.extend("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)

    def heading(text: str) -> None:
        out.append("")
        out.append(f"## {text}" if markdown else f"{text}:")
        if markdown:
            out.append("")

    for r in results:
        per_seed = r.extras.get("per_seed", [])
        qh = [(p["seed"], p["query_head"]) for p in per_seed if "query_head" in p]
        se = [(p["seed"], p["self_enhancement"]) for p in per_seed if "self_enhancement" in p]
        if qh:
            heading(f"{r.model}: query head (test-stage model, test item as target)")
            rows = []
            for seed, q in qh:
                if not isinstance(q, dict) or "error" in q:
                    err = q.get("error") if isinstance(q, dict) else q
                    rows.append([str(seed), f"error: {err}"])
                    continue
                hit = next((v for k, v in q.items() if k.startswith("query_hit@")), None)
                sid = next((v for k, v in q.items() if k.startswith("sid_recall@")), None)
                mer = next((v for k, v in q.items() if k.startswith("merged_recall@")), None)
                rows.append(
                    [str(seed), _num(hit), _num(sid), _num(mer), _num(q.get("expansion_gain"))]
                )
            keys = qh[0][1] if isinstance(qh[0][1], dict) else {}
            budget = next((k.split("@")[1] for k in keys if k.startswith("sid_recall@")), "B")
            k_hit = next((k.split("@")[1] for k in keys if k.startswith("query_hit@")), "K")
            width = max(len(row) for row in rows)
            if width == 5:
                table(
                    [
                        "seed",
                        f"Query-Hit@{k_hit}",
                        f"SID recall@{budget}",
                        f"SID+query recall@{budget}",
                        "expansion gain",
                    ],
                    rows,
                )
            else:
                out.extend(" ".join(row) for row in rows)
            examples = next(
                (q.get("examples") for _, q in qh if isinstance(q, dict) and q.get("examples")),
                None,
            )
            if examples:
                out.append("")
                out.append(f"Generated query examples (seed {qh[0][0]}):")
                out.append("")
                table(
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
                )
        for seed, rounds in se:
            heading(f"{r.model}: offline self-enhancement (seed {seed})")
            if self_enhance_note:
                out.append(self_enhance_note)
                out.append("")
            if not isinstance(rounds, list):
                out.append(f"error: {rounds.get('error') if isinstance(rounds, dict) else rounds}")
                continue
            rows = []
            for row in rounds:
                fb, ct = row.get("feedback", {}), row.get("control", {})
                rows.append(
                    [
                        str(row.get("round")),
                        _num(fb.get("R@10")),
                        _num(fb.get("N@10")),
                        _num(ct.get("R@10")),
                        _num(ct.get("N@10")),
                        str(row.get("clicks", "")),
                        str(row.get("query_clicks", "")),
                        _num(row.get("time_s"), 1),
                    ]
                )
            table(
                [
                    "round",
                    "feedback R@10",
                    "feedback N@10",
                    "control R@10",
                    "control N@10",
                    "item clicks",
                    "query clicks",
                    "time (s)",
                ],
                rows,
            )
        timings = [(p["seed"], p["timing"]) for p in per_seed if "timing" in p]
        if timings:
            heading(f"{r.model}: wall time per seed (s)")
            names = sorted({k for _, t in timings for k in t})
            table(
                ["seed", *names, "seed total"],
                [
                    [
                        str(seed),
                        *(_num(t.get(n), 1) for n in names),
                        _num(r.seed_time_s[r.seeds.index(seed)], 1)
                        if seed in r.seeds and len(r.seed_time_s) == len(r.seeds)
                        else "—",
                    ]
                    for seed, t in timings
                ],
            )
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
