"""Section i: how cost grows, drawn as bench/cost.svg (plain SVG, no plotting library).

Two panels, log-log: latency against the parameter count (10 to 2M) at batch 1, and against the
batch (1 to 4096) on a 4.8k-parameter network. The networks are 8-h-h-1 MLPs with relu, sse,
float64, init_seed 0, x ~ N(0, 1), y the seed's labels; h sets the parameter count. Five series:
each engine's `run` in-process (autograd, manual, numeric where its cost is within
GRADIENT_SERVICE_MAX_NUMERIC_COST), and `POST /gradients` end to end over HTTP (the default
engines, autograd and manual, weights from init_seed) with the answer in JSON and in base64.
Each point is the median of a few calls (as many as fit in about 0.2 s, at least 2, at most
15). The bench server allows answers up to 512 MB (GRADIENT_SERVICE_MAX_RESPONSE_BYTES), as a
2M-parameter JSON answer is larger than the default 64 MB.
"""

import http.client
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from bench.problems import base64_tensor, problem
from bench.report import Section, seconds
from bench.server import HOST, on_load_cpu
from service.core.config import Settings
from service.engines import autograd, manual, numeric

CHART = Path(__file__).with_name("cost.svg")
INPUTS = 8
WIDTHS = (1, 4, 16, 64, 256, 1024, 1400)  # 13 to 1.98M parameters
BATCH_WIDTH = 64  # the batch panel's network: 4,801 parameters
BATCHES = (1, 4, 16, 64, 256, 1024, 4096)
POINT_S = 0.2
SERIES = ("autograd", "manual", "numeric", "HTTP, JSON", "HTTP, base64")
COLOURS = dict(zip(SERIES, ("#1f77b4", "#d62728", "#9467bd", "#2ca02c", "#ff7f0e"), strict=True))
Point = tuple[float, float]  # (parameters or batch, seconds)


def layers(width: int) -> list[dict[str, Any]]:
    return [
        {"type": "linear", "in_features": INPUTS, "out_features": width},
        {"type": "relu"},
        {"type": "linear", "in_features": width, "out_features": width},
        {"type": "relu"},
        {"type": "linear", "in_features": width, "out_features": 1},
    ]


def parameter_count(width: int) -> int:
    return INPUTS * width + width + width * width + width + width + 1


def median_time(call: Callable[[], object], quick: bool) -> float:
    """The median of as many calls as fit in POINT_S (2 to 15; 1 to 3 when quick)."""
    start = time.perf_counter()
    call()
    first = time.perf_counter() - start
    most = 3 if quick else 15
    count = max(1 if quick else 2, min(most, math.floor(POINT_S / max(first, 1e-9))))
    times = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bodies(width: int, batch: int) -> dict[str, bytes]:
    p = problem(layers(width), batch, np.float64)
    common = {"network": {"layers": layers(width)}, "init_seed": 0}
    json_body = common | {"x": p.x.tolist(), "y": p.y.tolist()}
    compact = common | {"x": base64_tensor(p.x), "y": base64_tensor(p.y), "encoding": "base64"}
    return {"HTTP, JSON": orjson.dumps(json_body), "HTTP, base64": orjson.dumps(compact)}


def measure(width: int, batch: int, port: int, quick: bool) -> dict[str, float]:
    """Seconds per call of each series on the network of `width` at `batch`."""
    p = problem(layers(width), batch, np.float64)
    calls: dict[str, Callable[[], object]] = {
        "autograd": lambda: autograd.run(p),
        "manual": lambda: manual.run(p),
    }
    if numeric.cost(p) <= Settings().max_numeric_cost:
        calls["numeric"] = lambda: numeric.run(p)
    found = {name: median_time(call, quick) for name, call in calls.items()}
    if port:
        connection = http.client.HTTPConnection(HOST, port, timeout=600)
        try:
            for name, body in bodies(width, batch).items():

                def post(body: bytes = body) -> None:
                    headers = {"Content-Type": "application/json"}
                    connection.request("POST", "/gradients", body, headers)
                    response = connection.getresponse()
                    content = response.read()
                    if response.status != 200:
                        msg = f"POST /gradients answered {response.status}: {content[:300]!r}"
                        raise RuntimeError(msg)

                with on_load_cpu():
                    found[name] = median_time(post, quick)
        finally:
            connection.close()
    return found


def run(port: int, quick: bool) -> Section:
    by_parameters: dict[str, list[Point]] = {name: [] for name in SERIES}
    by_batch: dict[str, list[Point]] = {name: [] for name in SERIES}
    for width in WIDTHS:
        for name, t in measure(width, 1, port, quick).items():
            by_parameters[name].append((parameter_count(width), t))
    for batch in BATCHES:
        for name, t in measure(BATCH_WIDTH, batch, port, quick).items():
            by_batch[name].append((batch, t))
    CHART.write_text(
        svg(
            [
                ("latency against parameters (8-h-h-1 relu, batch 1)", "parameters",
                 by_parameters),
                (f"latency against batch (8-{BATCH_WIDTH}-{BATCH_WIDTH}-1 relu, "
                 f"{parameter_count(BATCH_WIDTH):,} parameters)", "batch", by_batch),
            ]
        )
    )  # fmt: skip
    section = Section("i. how cost grows: latency against parameters and batch")
    for title, points in (("parameters, batch 1", by_parameters), ("batch", by_batch)):
        for name in SERIES:
            if points[name]:
                text = ", ".join(f"{x:,.0f}: {seconds(t)}" for x, t in points[name])
                section.notes.append(f"{title}, {name}: {text}")
    section.notes.append(
        f"drawn in {CHART.relative_to(CHART.parents[1])}; numeric only where its cost is "
        "within the service's limit"
    )
    return section


# --- the chart ---------------------------------------------------------------------------------

PANEL_W, PANEL_H = 460, 340
MARGIN = {"left": 70, "right": 20, "top": 40, "bottom": 55}
LEGEND_H = 40


def decades(low: float, high: float) -> list[float]:
    return [10.0**k for k in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)]


def time_label(value: float) -> str:
    return seconds(value).replace(".0 ", " ")


def count_label(value: float) -> str:
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def panel(title: str, xlabel: str, series: dict[str, list[Point]], left: float) -> list[str]:
    xs = [x for points in series.values() for x, _ in points]
    ys = [y for points in series.values() for _, y in points]
    x_ticks, y_ticks = decades(min(xs), max(xs)), decades(min(ys), max(ys))
    lx, hx = math.log10(x_ticks[0]), math.log10(x_ticks[-1])
    ly, hy = math.log10(y_ticks[0]), math.log10(y_ticks[-1])
    x0, x1 = left + MARGIN["left"], left + PANEL_W - MARGIN["right"]
    y0, y1 = LEGEND_H + PANEL_H - MARGIN["bottom"], LEGEND_H + MARGIN["top"]

    def px(x: float) -> float:
        return x0 + (math.log10(x) - lx) / (hx - lx) * (x1 - x0)

    def py(y: float) -> float:
        return y0 - (math.log10(y) - ly) / (hy - ly) * (y0 - y1)

    out = [
        f'<text x="{(x0 + x1) / 2:.1f}" y="{y1 - 14}" text-anchor="middle" '
        f'font-weight="bold">{title}</text>',
        f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" fill="none" stroke="#444"/>',
    ]
    for x in x_ticks:
        out.append(f'<line x1="{px(x):.1f}" y1="{y1}" x2="{px(x):.1f}" y2="{y0}" stroke="#ddd"/>')
        out.append(
            f'<text x="{px(x):.1f}" y="{y0 + 16}" text-anchor="middle">{count_label(x)}</text>'
        )
    for y in y_ticks:
        out.append(f'<line x1="{x0}" y1="{py(y):.1f}" x2="{x1}" y2="{py(y):.1f}" stroke="#ddd"/>')
        out.append(
            f'<text x="{x0 - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{time_label(y)}</text>'
        )
    out.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{y0 + 38}" text-anchor="middle">{xlabel}</text>')
    out.append(
        f'<text transform="translate({left + 16},{(y0 + y1) / 2:.1f}) rotate(-90)" '
        'text-anchor="middle">latency per call (log)</text>'
    )
    for name, points in series.items():
        if not points:
            continue
        colour = COLOURS[name]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        dash = ' stroke-dasharray="6 3"' if name.startswith("HTTP") else ""
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
        )
        out += [
            f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>' for x, y in points
        ]
    return out


def svg(panels: list[tuple[str, str, dict[str, list[Point]]]]) -> str:
    width, height = PANEL_W * len(panels), LEGEND_H + PANEL_H
    body: list[str] = []
    for i, (title, xlabel, series) in enumerate(panels):
        body += panel(title, xlabel, series, i * PANEL_W)
    x = 20
    for name in SERIES:
        dash = ' stroke-dasharray="6 3"' if name.startswith("HTTP") else ""
        body.append(
            f'<line x1="{x}" y1="20" x2="{x + 28}" y2="20" stroke="{COLOURS[name]}" '
            f'stroke-width="2"{dash}/>'
        )
        body.append(f'<text x="{x + 34}" y="24">{name}</text>')
        x += 40 + 8 * len(name)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">\n'
        f'<rect width="{width}" height="{height}" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n"
    )
