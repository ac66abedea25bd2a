"""Rows of ratios, their targets, and the table they print as."""

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Target:
    """A bound on a ratio: `≤ 1.0` means the measured figure may be at most the baseline's."""

    op: Literal["≤", "<", "≥"]
    bound: float

    def met(self, ratio: float) -> bool:
        if self.op == "<":
            return ratio < self.bound
        return ratio <= self.bound if self.op == "≤" else ratio >= self.bound

    def __str__(self) -> str:
        return f"{self.op} {self.bound:.1f}"


@dataclass(frozen=True)
class Row:
    case: str
    measured: str  # "name = absolute figure"
    baseline: str  # the same, for the baseline measured in the same run
    ratio: float  # measured ÷ baseline: the figure
    target: Target | None = None

    @property
    def status(self) -> str:
        if self.target is None:
            return ""
        return "met" if self.target.met(self.ratio) else "NOT MET"


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def seconds(value: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def per_second(value: float) -> str:
    return f"{value:,.0f}/s"


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


HEADER = ("case", "measured", "baseline", "ratio", "target", "")


def ratio_text(ratio: float) -> str:
    return f"{ratio:.3g}" if ratio < 1000 else f"{ratio:,.0f}"


def cells(row: Row) -> tuple[str, ...]:
    target = str(row.target) if row.target else ""
    return (row.case, row.measured, row.baseline, ratio_text(row.ratio), target, row.status)


def render(sections: list[Section]) -> str:
    """A plain-text table, one block per section with its notes under it."""
    every = [HEADER] + [cells(r) for s in sections for r in s.rows]
    widths = [max(len(c[i]) for c in every) for i in range(len(HEADER))]

    def line(columns: tuple[str, ...]) -> str:
        padded = (c.ljust(w) for c, w in zip(columns, widths, strict=True))
        return "  ".join(padded).rstrip()

    out = [line(HEADER)]
    for s in sections:
        out += ["", s.title]
        out += [line(cells(r)) for r in s.rows]
        out += [f"  note: {note}" for note in s.notes]
    return "\n".join(out)
