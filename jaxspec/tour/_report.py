"""Rows, the printed table and the Markdown report of the tour."""

from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Row:
    section: str
    figure: str
    value: float
    reference: float | None
    seconds: float
    note: str = ""

    @property
    def error(self) -> float | None:
        if self.reference is None:
            return None
        scale = abs(self.reference) if self.reference != 0 else 1.0
        return abs(self.value - self.reference) / scale


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0 or (1e-3 <= abs(x) < 1e5):
        return f"{x:.6g}"
    return f"{x:.3e}"


def table(rows: list[Row]) -> str:
    head = ["section", "figure", "value", "reference", "rel. error", "time [s]", "note"]
    body = [
        [r.section, r.figure, _fmt(r.value), _fmt(r.reference), _fmt(r.error),
         f"{r.seconds:.1f}", r.note]
        for r in rows
    ]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(head)]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), sep, *(line(b) for b in body)])


def write_report(out: Path, rows: list[Row], plots: list[Path], meta: dict) -> Path:
    lines = ["# jaxspec tour", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += ["", table(rows), ""]
    for p in plots:
        lines += [f"![{p.stem}]({p.name})", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path

