"""Rendering of the one-page report: blocks → Markdown and self-contained HTML.

The report (:mod:`experiments.reporting.report`) is a list of blocks ``(kind, content)``:
``h1``/``h2``/``h3`` (text), ``p`` (text), ``ul`` (list of texts), ``table`` (a
``DataFrame``; floats shown with 4 significant digits, ``NaN`` as ``n/a``) and ``img``
(a PNG path: linked relative to the report in Markdown, embedded as base64 in HTML).
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Block", "render_html", "render_markdown"]

#: A block of the report: ``(kind, content)``, kind one of ``h1 h2 h3 p ul table img``.
Block = tuple[str, Any]


def _fmt(x: Any) -> str:
    if isinstance(x, float | np.floating):
        return "n/a" if not math.isfinite(x) else f"{x:.4g}"
    return str(x)


def _markdown_table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _html_table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def render_markdown(blocks: list[Block], root: Path) -> str:
    """The blocks as Markdown, images linked relative to ``root``."""
    lines: list[str] = []
    for kind, content in blocks:
        if kind in ("h1", "h2", "h3"):
            lines += ["#" * int(kind[1]) + f" {content}", ""]
        elif kind == "p":
            lines += [content, ""]
        elif kind == "ul":
            lines += [*[f"* {item}" for item in content], ""]
        elif kind == "table":
            lines += [_markdown_table(content), ""]
        elif kind == "img":
            lines += [f"![{content.stem}]({content.relative_to(root).as_posix()})", ""]
    return "\n".join(lines)


def render_html(blocks: list[Block], title: str) -> str:
    """The blocks as one self-contained HTML page (images embedded as base64)."""
    body: list[str] = []
    for kind, content in blocks:
        if kind in ("h1", "h2", "h3"):
            body.append(f"<{kind}>{html.escape(content)}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{html.escape(content)}</p>")
        elif kind == "ul":
            body.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in content) + "</ul>")
        elif kind == "table":
            body.append(_html_table(content))
        elif kind == "img":
            data = base64.b64encode(content.read_bytes()).decode("ascii")
            body.append(
                f'<figure><img alt="{html.escape(content.stem)}" '
                f'src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(content.stem)}</figcaption></figure>"
            )
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
        "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;"
        "padding:2px 6px;text-align:right}img{max-width:100%}pre{font-size:11px}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )
