"""A dataset's lineage drawn as an SVG picture on the server (no script, no external service).

Three columns: what the table is built from (raw sources and tables) on the left, the table in
the middle, the tables built from it on the right. Arrows are labelled with the DAG task (or the
spec build) that follows them: once above a side's arrows when they all share it, else beside each
arrow's far end, where the labels are a row apart and cannot overlap. Tables the viewer may not see
appear without their name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from ecocloud.catalog_export import HIDDEN

NODE_W, NODE_H, ROW, PAD, WIDTH = 280, 34, 52, 22, 1200
# what fits at the page's font sizes: a node's 13 px name, an arrow's 11 px label in the gap between columns
NAME_CHARS, GAP_CHARS = 38, 24


def _short(text: str, n: int = NAME_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _node(x: float, y: float, label: str, kind: str, href: str | None, title: str) -> str:
    box = (
        f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6" class="node-{kind}"/>'
        f'<text x="{x + NODE_W / 2}" y="{y + NODE_H / 2 + 5}" text-anchor="middle">{escape(_short(label))}</text>'
    )
    inner = f"<g><title>{escape(title)}</title>{box}</g>"
    return f'<a href="{escape(href)}">{inner}</a>' if href else inner


def _label(x: float, y: float, text: str, anchor: str, chars: int = GAP_CHARS) -> str:
    short = escape(_short(text, chars))
    return f'<text x="{x}" y="{y}" text-anchor="{anchor}" class="edge-label">{short}</text>'


def _edge(x1: float, y1: float, x2: float, y2: float, label: str, at_start: bool | None) -> str:
    """An arrow; its label beside its start (``at_start``), its end (False), or none (None: the
    side's one label is drawn apart)."""
    mid = (x1 + x2) / 2
    path = f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2 - 6},{y2}"
    text = ""
    if at_start is not None:
        text = _label(x1 + 6, y1 - 6, label, "start") if at_start else _label(x2 - 10, y2 - 6, label, "end")
    return f'<g><title>{escape(label)}</title><path d="{path}" marker-end="url(#arrow)"/>{text}</g>'


def _side_label(vias: Sequence[set[str]], x: float) -> str | None:
    """The label every arrow of a side shares, drawn once above the gap (None: they differ)."""
    names = {", ".join(sorted(v)) for v in vias}
    if len(names) != 1:
        return None
    return _label(x, PAD - 8, names.pop(), "middle", NAME_CHARS)


def lineage_svg(
    name: str,
    title: str,
    edges: Sequence[dict[str, Any]],
    visible: Callable[[str], bool],
    href: Callable[[str], str],
    raw_word: str = "原始数据",
) -> str:
    """The picture for table ``name``; ``edges`` are catalog_lineage rows touching it; ``raw_word``
    names raw inputs in the page's language."""
    inputs: dict[tuple[str, str], set[str]] = defaultdict(set)
    outputs: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        via = e.get("task") or e.get("build") or ""
        if e["output_table"] == name:
            inputs[(e["input_kind"], e["input_id"])].add(via)
        if e["input_kind"] == "table" and e["input_id"] == name:
            outputs[e["output_table"]].add(via)
    rows = max(len(inputs), len(outputs), 1)
    height = rows * ROW + 2 * PAD
    cx, cy = (WIDTH - NODE_W) / 2, height / 2 - NODE_H / 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{escape("数据血缘 lineage: " + name)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
    ]

    def top(i: int, n: int) -> float:
        return height / 2 - n * ROW / 2 + i * ROW + (ROW - NODE_H) / 2

    left = _side_label(list(inputs.values()), (PAD + NODE_W + cx) / 2)
    for i, ((kind, ident), via) in enumerate(sorted(inputs.items())):
        y = top(i, len(inputs))
        shown = ident if kind == "raw" or visible(ident) else HIDDEN
        link = href(ident) if kind == "table" and visible(ident) else None
        label = f"{raw_word} {ident}" if kind == "raw" else shown
        parts.append(_node(PAD, y, label, kind, link, shown))
        via_text = ", ".join(sorted(via))
        parts.append(
            _edge(PAD + NODE_W, y + NODE_H / 2, cx, cy + NODE_H / 2, via_text, None if left else True)
        )
    parts.append(_node(cx, cy, name, "self", None, f"{title} ({name})"))
    x = WIDTH - PAD - NODE_W
    right = _side_label(list(outputs.values()), (cx + NODE_W + x) / 2)
    for i, (out, via) in enumerate(sorted(outputs.items())):
        y = top(i, len(outputs))
        shown = out if visible(out) else HIDDEN
        via_text = ", ".join(sorted(via))
        parts.append(
            _edge(cx + NODE_W, cy + NODE_H / 2, x, y + NODE_H / 2, via_text, None if right else False)
        )
        parts.append(_node(x, y, shown, "table", href(out) if visible(out) else None, shown))
    parts.extend(label for label in (left, right) if label)
    if not inputs and not outputs:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{cy + NODE_H + 20}" text-anchor="middle" class="edge-label">'
            "尚无血缘记录：运行记录血缘后显示 (no lineage recorded yet)</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
