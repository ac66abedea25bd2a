"""Responses as text for a terminal: the tables `gradient-service gradients` and `check` print."""

from collections.abc import Iterable, Sequence
from typing import Any

from service.schemas.responses import CheckResponse, GradientsResponse
from service.schemas.values import Deviation, EngineDeviation, Finding, Tolerance

MAX_SHOWN = 8  # a tensor with more entries is summarised by its shape and first entries


def table(rows: Iterable[Sequence[str]], indent: str = "  ") -> list[str]:
    """Left-aligned columns, two spaces apart."""
    rows = list(rows)
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    return [
        (indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))).rstrip()
        for row in rows
    ]


def number(value: float | None) -> str:
    """A difference or an error: 3 significant digits, exact zero as 0."""
    if value is None:
        return "-"
    return "0" if value == 0 else f"{value:.3g}"


def flatten(tensor: Any) -> list[float]:
    if isinstance(tensor, list):
        return [x for item in tensor for x in flatten(item)]
    return [tensor]


def shape(tensor: Any) -> list[int]:
    return [len(tensor), *shape(tensor[0])] if isinstance(tensor, list) and tensor else []


def summary(tensor: Any) -> str:
    """The values themselves when few, else the shape and the first few."""
    values = flatten(tensor)
    if len(values) <= MAX_SHOWN:
        return repr(tensor)
    first = ", ".join(repr(v) for v in values[:3])
    return f"shape {shape(tensor)}: {first}, … ({len(values)} values)"


def tolerance(t: Tolerance) -> str:
    return f"atol {t.atol:g}, rtol {t.rtol:g}"


def yes(flag: bool) -> str:
    return "yes" if flag else "NO"


# --- POST /gradients ---------------------------------------------------------------------------


def deviation_rows(d: EngineDeviation) -> list[list[str]]:
    def row(name: str, dev: Deviation) -> list[str]:
        return [name, number(dev.max_abs), number(dev.max_rel), yes(dev.agree)]

    rows = [["quantity", "max_abs", "max_rel", "agree"], row("loss", d.loss)]
    rows.append(row("prediction", d.prediction))
    rows += [row(name, dev) for name, dev in d.gradients.items()]
    rows.append(row("input_gradient", d.input_gradient))
    rows += [row(f"updated {name}", dev) for name, dev in (d.updated_weights or {}).items()]
    rows.append(["all", number(d.max_abs), number(d.max_rel), yes(d.agree)])
    return rows


def gradients(r: GradientsResponse) -> str:
    timings = ", ".join(f"{name} {e.elapsed_ms:.2f} ms" for name, e in r.engines.items())
    lines = [
        f"loss        {r.loss!r}",
        f"prediction  {summary(r.prediction)}",
        f"dtype       {r.dtype}",
        f"engines     {timings}",
    ]
    for engine, d in r.deviations.items():
        lines += ["", f"{engine} against {r.reference} ({tolerance(d.tolerance)}):"]
        lines += table(deviation_rows(d))
    verdict = "every engine agrees with" if r.agree else "an engine DISAGREES with"
    lines += ["", f"agree: {yes(r.agree)} ({verdict} the reference, {r.reference})"]
    return "\n".join(lines)


# --- POST /gradients/check ---------------------------------------------------------------------


def findings(r: CheckResponse) -> dict[str, Finding]:
    report = r.report
    named = {"loss": report.loss, "prediction": report.prediction}
    named |= report.gradients
    named["input_gradient"] = report.input_gradient
    return {name: f for name, f in named.items() if f is not None}


def worst(name: str, f: Finding) -> list[str]:
    """A finding that failed: what it is, the hint, and its worst entries."""
    lines = [f"{name}: {f.status}, {f.correct} of {f.entries} entries correct"]
    if f.hint:
        lines.append(f"  hint: {f.hint}")
    if f.mismatches:
        header = ["index", "expected", "got", "abs_error", "rel_error"]
        rows = [
            [
                str(list(m.index)),
                repr(m.expected),
                repr(m.got),
                number(m.abs_error),
                number(m.rel_error),
            ]
            for m in f.mismatches
        ]
        lines += table([header, *rows], indent="    ")
        if f.mismatch_count > len(f.mismatches):
            lines.append(f"    … and {f.mismatch_count - len(f.mismatches)} more")
    return lines


def check(r: CheckResponse) -> str:
    report = r.report
    named = findings(r)
    lines = [
        f"verdict  {report.verdict.upper()}",
        f"score    {report.score:.4g} ({report.correct} of {report.total} entries correct)",
        f"dtype    {r.dtype}, {tolerance(r.tolerance)}",
        "",
    ]
    header = ["quantity", "status", "correct", "max_abs", "max_rel"]
    rows = [
        [name, f.status, f"{f.correct}/{f.entries}", number(f.max_abs), number(f.max_rel)]
        for name, f in named.items()
    ]
    lines += table([header, *rows])
    if report.unexpected:
        lines.append(
            f"  unexpected (not parameters of the network): {', '.join(report.unexpected)}"
        )
    for name, f in named.items():
        if not f.agree:
            lines += ["", *worst(name, f)]
    return "\n".join(lines)
