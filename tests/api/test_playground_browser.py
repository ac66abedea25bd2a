"""The playground in headless Chromium against a live server, driven by Playwright.

Chromium is Debian's (/usr/bin/chromium, installed by scripts/ensure-chromium when missing; never
`playwright install`). Every request the page makes to anywhere but the live server is aborted
and fails the test. Each test keeps a screenshot in tests/artifacts/ (gitignored).
"""

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.api.test_docs_browser import (  # noqa: F401 - chromium is a fixture used by name
    ARTIFACTS,
    HEADLESS_FLAGS,
    chromium,
)
from tests.conftest import live_server

pytestmark = pytest.mark.live

TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:  # noqa: F811 - the imported fixture
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=HEADLESS_FLAGS)
        yield browser
        browser.close()


class Call(NamedTuple):
    path: str
    headers: dict[str, str]
    body: Any


def open_playground(
    browser: Browser,
    live_url: str,
    width: int = 1280,
    height: int = 1000,
) -> Page:
    """The page at /, ready, with every request elsewhere aborted and remembered, and the
    path, headers and JSON body of every API call it makes (`page.calls`)."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(TIMEOUT_MS)
    elsewhere: list[str] = []
    errors: list[str] = []
    calls: list[Call] = []

    def route(route: Any) -> None:
        request = route.request
        if not request.url.startswith(f"{live_url}/"):
            elsewhere.append(request.url)
            route.abort()
        elif request.resource_type == "fetch":
            body = json.loads(request.post_data) if request.post_data else None
            calls.append(Call(request.url.removeprefix(live_url), request.headers, body))
            route.continue_()
        else:
            route.continue_()

    page.route("**/*", route)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_url}/")
    page.wait_for_selector("body[data-ready=true]", state="attached")
    page.elsewhere = elsewhere  # type: ignore[attr-defined]
    page.errors = errors  # type: ignore[attr-defined]
    page.calls = calls  # type: ignore[attr-defined]
    return page


def expect_refusals(page: Page, status: str, count: int) -> None:
    """The console's errors are exactly `count` refusals with `status` (Chromium logs each
    answer that is not 2xx); they are cleared, so that finish() sees no other error."""
    errors = page.errors  # type: ignore[attr-defined]
    refusal = f"Failed to load resource: the server responded with a status of {status}"
    assert errors == [refusal] * count
    errors.clear()


def finish(page: Page, name: str) -> None:
    """Keep a screenshot; the page must have asked nothing of anyone else, and logged no error."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"playground-{name}.png", full_page=True)
    assert page.elsewhere == []  # type: ignore[attr-defined]
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def seed_problem(live_url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """What the page sends for the seed example: GET /examples/seed and the default dtype."""
    example = httpx.get(f"{live_url}/examples/seed", headers=headers, timeout=30).json()
    return {**example, "dtype": "float64"}


def data_value(page: Page, selector: str) -> Any:
    value = page.get_attribute(selector, "data-value")
    assert value is not None, selector
    return value


def test_compute_shows_the_apis_numbers(browser: Browser, live_url: str) -> None:
    page = open_playground(browser, live_url)
    page.click("#compute")
    page.wait_for_selector("#compute-output[data-state=done]")
    api = httpx.post(f"{live_url}/gradients", json=seed_problem(live_url), timeout=30).json()

    assert float(data_value(page, "#loss-value")) == api["loss"]
    assert float(page.inner_text("#loss-value")) == api["loss"]
    assert json.loads(data_value(page, "#prediction-value")) == api["prediction"]
    assert page.inner_text("#agree-value") == ("yes" if api["agree"] else "no")

    deviation = api["deviations"]["manual"]
    expected = {
        "loss": deviation["loss"],
        "prediction": deviation["prediction"],
        "input_gradient": deviation["input_gradient"],
        **{f"gradients.{k}": v for k, v in deviation["gradients"].items()},
    }
    rows = page.query_selector_all("#deviations-manual tbody tr")
    assert [row.get_attribute("data-quantity") for row in rows] == [
        "loss",
        "prediction",
        *(f"gradients.{name}" for name in api["gradients"]),
        "input_gradient",
    ]
    for row in rows:
        quantity = expected[str(row.get_attribute("data-quantity"))]
        max_abs, max_rel, agree, kinks = row.query_selector_all("td")
        assert float(str(max_abs.get_attribute("data-value"))) == quantity["max_abs"]
        assert float(str(max_rel.get_attribute("data-value"))) == quantity["max_rel"]
        assert agree.inner_text() == ("yes" if quantity["agree"] else "no")
        assert kinks.get_attribute("data-kinks") == "0"  # a smooth network

    heatmaps = page.query_selector_all(".heatmap canvas")
    assert [c.get_attribute("data-param") for c in heatmaps] == list(api["gradients"])
    finish(page, "compute")


# Three points of the seed's kind: every trace tensor is a batch, [3, 2], [3, 10] or [3, 1].
BATCH = [[0.9861, 0.668], [0.1, 0.2], [-1.0, 0.5]]

# Every element under `selector` that is rendered (text for screen readers only aside): its box
# must lie within the viewport's width (half a pixel for subpixel layout), and none may scroll
# sideways.
OVERFLOWING = """(selector) => {
  const width = document.documentElement.clientWidth;
  const offenders = [];
  for (const root of document.querySelectorAll(selector)) {
    for (const node of [root, ...root.querySelectorAll("*")]) {
      const box = node.getBoundingClientRect();
      if ((box.width === 0 && box.height === 0) || node.matches(".sr-only")) continue;
      const name = node.tagName.toLowerCase() + (node.id ? "#" + node.id : "")
        + (node.getAttribute("class") ? "." + node.getAttribute("class") : "");
      if (box.left < -0.5 || box.right > width + 0.5) {
        offenders.push(`${name} spans ${box.left} to ${box.right} of ${width}`);
      }
      if (node.scrollWidth > node.clientWidth && getComputedStyle(node).display !== "inline") {
        offenders.push(`${name} scrolls: ${node.scrollWidth} > ${node.clientWidth}`);
      }
    }
  }
  return offenders;
}"""

# Each pass's tensors by kind of step: (the key in the API's step, the page's label).
PASSES = {
    "linear": (
        [("input", "input"), ("z", "z")],
        [("grad_z", "dL/dz"), ("grad_input", "dL/dinput")],
    ),
    "activation": ([("z", "z"), ("a", "a")], [("grad_a", "dL/da"), ("grad_z", "dL/dz")]),
    "other": (
        [("input", "input"), ("output", "output")],
        [("grad_output", "dL/doutput"), ("grad_input", "dL/dinput")],
    ),
}
ACTIVATIONS = {"identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu"}
ACTIVATIONS |= {"silu", "mish"}


def trace_batch(page: Page) -> None:
    page.fill("#x", json.dumps(BATCH))
    page.fill("#y", "")  # y = ½ Σ x² per point
    page.click("#trace")
    page.wait_for_selector("#trace-output[data-state=done]")


def pass_tensors(card: Any, kind: str) -> list[tuple[str, list[int], list[float]]]:
    """The labels, shapes and first entries of one pass of a trace card."""
    terms = card.query_selector_all(f'[data-pass="{kind}"] dt')
    tensors = card.query_selector_all(f'[data-pass="{kind}"] dd')
    return [
        (
            term.inner_text(),
            json.loads(str(tensor.get_attribute("data-shape"))),
            json.loads(str(tensor.get_attribute("data-first"))),
        )
        for term, tensor in zip(terms, tensors, strict=True)
    ]


def flat(values: Any) -> list[float]:
    return [v for row in values for v in flat(row)] if isinstance(values, list) else [values]


def shape(values: Any) -> list[int]:
    return [len(values), *shape(values[0])] if isinstance(values, list) else []


def assert_cards_hold(cards: list[Any], trace: list[dict[str, Any]]) -> None:
    """Each layer's card: its index and kind, and its tensors' labels, shapes and first entries,
    as the API's trace has them."""
    assert len(cards) == len(trace)
    for card, step in zip(cards, trace, strict=True):
        assert card.query_selector("h3").inner_text() == f"Layer {step['index']} {step['type']}"
        kind = step["type"] if step["type"] == "linear" else "other"
        kind = "activation" if step["type"] in ACTIVATIONS else kind
        for name, tensors in zip(("forward", "backward"), PASSES[kind], strict=True):
            expected = [(label, shape(step[key]), flat(step[key])[:4]) for key, label in tensors]
            assert pass_tensors(card, name) == expected, (step["index"], name)
        kept = [(k, shape(v), flat(v)[:4]) for k, v in (step.get("values") or {}).items()]
        assert pass_tensors(card, "kept") == kept, step["index"]


def test_the_trace_shows_every_layer_forward_and_back(browser: Browser, live_url: str) -> None:
    page = open_playground(browser, live_url)
    trace_batch(page)
    problem = {k: v for k, v in seed_problem(live_url).items() if k != "y"}
    api = httpx.post(
        f"{live_url}/gradients", json={**problem, "x": BATCH, "trace": True}, timeout=30
    ).json()

    cards = page.query_selector_all("#trace-steps > li")
    assert [c.get_attribute("data-type") for c in cards] == [None] + [
        step["type"] for step in api["trace"]
    ]
    assert pass_tensors(cards[0], "forward") == [("x", [3, 2], BATCH[0] + BATCH[1])]
    assert pass_tensors(cards[0], "backward") == [
        ("dL/dx", [3, 2], flat(api["input_gradient"])[:4])
    ]
    assert_cards_hold(cards[1:], api["trace"])

    first_z = page.locator('#trace-steps > li[data-layer="0"] [data-pass="forward"] dd').nth(1)
    first_z.locator("summary").click()
    expect(first_z.locator(".listing p")).to_have_count(3)  # one row per point
    rows = first_z.locator(".listing p").all_inner_texts()
    assert [row.split(" ", 1)[0] for row in rows] == ["[0]", "[1]", "[2]"]
    assert [len(row.split(", ")) for row in rows] == [10] * 3  # the layer's 10 outputs
    finish(page, "trace")


@pytest.mark.parametrize("problem", ["batch", "cnn"])
@pytest.mark.parametrize(("width", "height"), [(1280, 1000), (390, 844)])
def test_the_trace_and_the_heading_fit_the_width(
    browser: Browser, live_url: str, width: int, height: int, problem: str
) -> None:
    page = open_playground(browser, live_url, width, height)
    if problem == "batch":
        trace_batch(page)
    else:
        page.select_option("#preset", "cnn")
        page.click("#trace")
        page.wait_for_selector("#trace-output[data-state=done]")
    summaries = page.locator("#trace-output summary")
    assert summaries.count() > 10
    for i in range(summaries.count()):  # every tensor expanded: the longest the trace gets
        summaries.nth(i).click()
    expect(page.locator("#trace-output .listing")).to_have_count(summaries.count())

    assert page.evaluate(OVERFLOWING, "h1, #trace-section") == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    finish(page, f"trace-{problem}-{width}")


def test_check_highlights_a_planted_wrong_entry(browser: Browser, live_url: str) -> None:
    api = httpx.post(f"{live_url}/gradients", json=seed_problem(live_url), timeout=30).json()
    candidate = api["gradients"]
    candidate["2.weight"][3][1] += 0.5  # the planted mistake

    page = open_playground(browser, live_url)
    page.fill("#candidate", json.dumps(candidate))
    page.click("#check")
    page.wait_for_selector("#check-output[data-state=done]")

    assert page.get_attribute("#check-verdict", "data-verdict") == "fail"
    wrong = page.query_selector_all("td.wrong")
    assert [(w.get_attribute("data-param"), w.get_attribute("data-index")) for w in wrong] == [
        ("2.weight", "3,1")
    ]
    statuses = {
        s.get_attribute("data-quantity"): s.get_attribute("data-status")
        for s in page.query_selector_all("#check-output .finding")
    }
    assert statuses == {name: "ok" for name in candidate} | {"2.weight": "mismatch"}
    (diagnosis,) = page.query_selector_all("#check-diagnoses li")  # one entry off: a slip
    assert diagnosis.get_attribute("data-kind") == "entries"
    assert diagnosis.get_attribute("data-parameters") == "2.weight"
    assert "2.weight is right but for 1 entry ([3, 1])" in diagnosis.inner_text()
    finish(page, "check")


def test_check_names_a_transposed_square_gradient(browser: Browser, live_url: str) -> None:
    api = httpx.post(f"{live_url}/gradients", json=seed_problem(live_url), timeout=30).json()
    candidate = api["gradients"]
    candidate["2.weight"] = [list(row) for row in zip(*candidate["2.weight"], strict=True)]
    page = open_playground(browser, live_url)
    page.fill("#candidate", json.dumps(candidate))
    page.click("#check")
    page.wait_for_selector("#check-output[data-state=done]")
    (diagnosis,) = page.query_selector_all("#check-diagnoses li")
    assert diagnosis.get_attribute("data-kind") == "transpose"
    assert diagnosis.get_attribute("data-layer") == "2"
    assert "square: the shape does not show it" in diagnosis.inner_text()
    assert page.query_selector_all('td.wrong[data-param="2.weight"]')  # and the grid beside it
    finish(page, "check-transpose")


def test_train_draws_one_point_per_epoch(browser: Browser, live_url: str) -> None:
    """Its screenshot, with Compute's results beside, is the README's docs/playground.png."""
    epochs = 5
    page = open_playground(browser, live_url)
    page.click("#compute")
    page.fill("#epochs", str(epochs))
    page.click("#train")
    page.wait_for_selector("#train-summary[data-state=done]")
    page.wait_for_selector(f"#loss-chart[data-points='{epochs}']")

    body = {k: v for k, v in seed_problem(live_url).items() if k not in ("x", "y")}
    body |= {"data": {"generator": "seed", "n": 100, "seed": 0}, "epochs": epochs}
    api = httpx.post(f"{live_url}/train", json=body, timeout=60).json()
    for engine in ("autograd", "manual"):
        points = page.query_selector_all(f"#loss-chart circle.point.{engine}")
        assert [p.get_attribute("data-epoch") for p in points] == [
            str(e) for e in range(1, epochs + 1)
        ]
        losses = [float(str(p.get_attribute("data-loss"))) for p in points]
        assert losses == api["loss_curves"][engine]
    assert len(page.query_selector_all("#epochs-table tbody tr")) == epochs
    assert page.inner_text("#train-figures").startswith("Within tolerance")
    page.wait_for_selector("#compute-output[data-state=done]")
    finish(page, "train")


def test_a_phone_gets_one_readable_column_of_labelled_controls(
    browser: Browser, live_url: str
) -> None:
    page = open_playground(browser, live_url, width=390, height=844)
    page.click("#compute")
    page.wait_for_selector("#compute-output[data-state=done]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    unlabelled = page.evaluate(
        """[...document.querySelectorAll("input, select, textarea")]
            .filter((c) => c.labels.length === 0).map((c) => c.id || c.outerHTML)"""
    )
    assert unlabelled == []
    unnamed_buttons = page.evaluate(
        """[...document.querySelectorAll("button")]
            .filter((b) => !(b.getAttribute("aria-label") || b.textContent.trim()))
            .map((b) => b.outerHTML)"""
    )
    assert unnamed_buttons == []
    finish(page, "phone")


def openapi_kinds(live_url: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Every layer kind and every loss the API takes, each with its options (from its spec)."""
    schemas = httpx.get(f"{live_url}/openapi.json", timeout=30).json()["components"]["schemas"]

    def options(mapping: dict[str, str]) -> dict[str, list[str]]:
        return {
            kind: [name for name in schemas[ref.rsplit("/", 1)[1]]["properties"] if name != "type"]
            for kind, ref in mapping.items()
        }

    layers = schemas["Network-Input"]["properties"]["layers"]["items"]["discriminator"]["mapping"]
    loss = schemas["GradientsRequest-Input"]["properties"]["loss"]["oneOf"][1]
    return options(layers), options(loss["discriminator"]["mapping"])


def test_the_editor_offers_every_kind_and_loss_with_their_options(
    browser: Browser, live_url: str
) -> None:
    kinds, losses = openapi_kinds(live_url)
    page = open_playground(browser, live_url)
    offered = page.eval_on_selector_all("#layer-0-type option", "os => os.map((o) => o.value)")
    assert sorted(offered) == sorted(kinds)
    for kind, options in kinds.items():
        page.select_option("#layer-0-type", kind)
        assert page.get_attribute("#layer-0", "data-type") == kind
        for option in options:
            # a residual block's "layers" is a list of its own: its first inner layer is 0.0
            control = "#layer-0-0-type" if option == "layers" else f"#layer-0-{option}"
            assert page.locator(control).count() == 1, (kind, option)

    offered = page.eval_on_selector_all("#loss option", "os => os.map((o) => o.value)")
    assert sorted(offered) == sorted(losses)
    for loss, options in losses.items():
        page.select_option("#loss", loss)
        shown = page.eval_on_selector_all("#loss-options [id]", "cs => cs.map((c) => c.id)")
        assert shown == [f"loss-{option}" for option in options], loss
    finish(page, "kinds")


def choose(page: Page, path: str, kind: str, **options: str | bool) -> None:
    """Set layer `path` ("3", or "5-0" in a block) to `kind` and type or tick its options."""
    page.select_option(f"#layer-{path}-type", kind)
    for name, value in options.items():
        control = f"#layer-{path}-{name}"
        if isinstance(value, bool):
            page.set_checked(control, value)
        else:
            page.fill(control, value)


def test_a_network_of_every_family_is_sent_as_built(browser: Browser, live_url: str) -> None:
    """Convolution, normalisation, pooling, a residual block, dropout and log-softmax, built in
    the editor; the body sent holds exactly what was typed (pairs as pairs), and both engines
    agree on it."""
    page = open_playground(browser, live_url)
    page.select_option("#preset", "linear")
    choose(page, "0", "conv2d", out_channels="2", kernel_size="3, 2", padding="1")
    for _ in range(9):
        page.click("#add-layer")
    choose(page, "1", "batch_norm2d", num_features="2", eps="0.001")
    choose(page, "2", "avg_pool2d", kernel_size="2", count_include_pad=False)
    choose(page, "3", "flatten")
    choose(page, "4", "linear", in_features="8", out_features="4")
    choose(page, "5", "residual")
    choose(page, "5-0", "linear", in_features="4", out_features="4", bias=False)
    page.click("#layer-5-add")
    choose(page, "5-1", "tanh")
    choose(page, "6", "dropout", p="0.25")
    choose(page, "7", "layer_norm", normalized_shape="4")
    choose(page, "8", "linear", in_features="4", out_features="3")
    choose(page, "9", "log_softmax")
    x = [[[[(i * 4 + j) / 10 for j in range(4)] for i in range(4)]], [[[1.0] * 4] * 4]]
    page.fill("#x", json.dumps(x))
    page.fill("#y", "[0, 2]")
    page.select_option("#loss", "nll")
    page.fill("#dropout-seed", "5")
    page.click("#compute")
    page.wait_for_selector("#compute-output[data-state=done]")

    sent = page.calls[-1].body  # type: ignore[attr-defined]
    assert sent["network"]["layers"] == [
        {"type": "conv2d", "in_channels": 1, "out_channels": 2, "kernel_size": [3, 2],
         "stride": 1, "padding": 1, "dilation": 1, "bias": True},
        {"type": "batch_norm2d", "num_features": 2, "eps": 0.001, "affine": True},
        {"type": "avg_pool2d", "kernel_size": 2, "padding": 0, "count_include_pad": False},
        {"type": "flatten", "start_dim": 1, "end_dim": -1},
        {"type": "linear", "in_features": 8, "out_features": 4, "bias": True},
        {"type": "residual", "layers": [
            {"type": "linear", "in_features": 4, "out_features": 4, "bias": False},
            {"type": "tanh"},
        ]},
        {"type": "dropout", "p": 0.25},
        {"type": "layer_norm", "normalized_shape": 4, "eps": 1e-5, "elementwise_affine": True},
        {"type": "linear", "in_features": 4, "out_features": 3, "bias": True},
        {"type": "log_softmax", "dim": -1},
    ]  # fmt: skip
    assert (sent["x"], sent["y"], sent["loss"], sent["dropout_seed"]) == (x, [0, 2], "nll", 5)
    api = httpx.post(f"{live_url}/gradients", json=sent, timeout=30).json()
    assert float(data_value(page, "#loss-value")) == api["loss"]
    assert page.inner_text("#agree-value") == "yes"
    assert "5.0.weight" in api["gradients"]  # the block's inner layer, as torch names it

    page.click("#trace")  # batch-norm and layer-norm statistics, the dropout mask kept
    page.wait_for_selector("#trace-output[data-state=done]")
    traced = httpx.post(f"{live_url}/gradients", json={**sent, "trace": True}, timeout=30).json()
    assert {k for step in traced["trace"] for k in step.get("values") or {}} == {
        "mean",
        "var",
        "mask",
    }
    assert_cards_hold(page.query_selector_all("#trace-steps > li[data-type]"), traced["trace"])
    finish(page, "every-family")


def test_a_loss_with_options_is_sent_as_an_object(browser: Browser, live_url: str) -> None:
    page = open_playground(browser, live_url)
    page.select_option("#loss", "huber")
    page.fill("#loss-delta", "0.5")
    page.click("#compute")
    page.wait_for_selector("#compute-output[data-state=done]")
    assert page.calls[-1].body["loss"] == {"type": "huber", "delta": 0.5}  # type: ignore[attr-defined]
    page.select_option("#loss", "mse")
    page.click("#compute")
    page.wait_for_selector("#compute-output[data-state=done]")
    assert page.calls[-1].body["loss"] == "mse"  # type: ignore[attr-defined]
    finish(page, "loss")


CNN_X = [
    [
        [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
        [0.2, 0.9, 0.7, 0.5, 0.3, 0.8],
        [0.4, 0.7, 0.1, 0.0, 0.5, 0.6],
        [0.6, 0.5, 0.0, 0.3, 0.7, 0.4],
        [0.8, 0.3, 0.5, 0.7, 0.9, 0.2],
        [1.0, 0.8, 0.6, 0.4, 0.2, 0.0],
    ]
]
CNN = {  # the small CNN preset, as the brief has it
    "network": {
        "layers": [
            {"type": "conv2d", "in_channels": 1, "out_channels": 2, "kernel_size": 3},
            {"type": "relu"},
            {"type": "max_pool2d", "kernel_size": 2},
            {"type": "flatten"},
            {"type": "linear", "in_features": 8, "out_features": 3},
        ]
    },
    "x": CNN_X,
    "y": 1,
    "loss": "cross_entropy",
    "init_seed": 3,
    "dropout_seed": 0,
    "dtype": "float64",
}


def hover_cell(page: Page, canvas: Any, row: int, col: int, rows: int, cols: int) -> str:
    """Hover the middle of a heat map's cell; what its probe then says."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(
        box["x"] + box["width"] * (col + 0.5) / cols, box["y"] + box["height"] * (row + 0.5) / rows
    )
    return str(
        canvas.evaluate("c => c.closest('.heatmap, dd').querySelector('output').textContent")
    )


def test_the_small_cnn_preset_maps_each_channel(browser: Browser, live_url: str) -> None:
    page = open_playground(browser, live_url)
    page.select_option("#preset", "cnn")
    page.click("#compute")
    page.wait_for_selector("#compute-output[data-state=done]")
    assert page.calls[-1].body == CNN  # type: ignore[attr-defined]
    api = httpx.post(f"{live_url}/gradients", json={**CNN, "trace": True}, timeout=30).json()
    assert float(data_value(page, "#loss-value")) == api["loss"]
    assert json.loads(data_value(page, "#prediction-value")) == api["prediction"]  # [3]
    assert page.inner_text("#agree-value") == "yes"

    # conv weights [out 2, in 1, 3, 3]: a row per output channel, a map per input channel
    weight = page.locator('.heatmap[data-param="0.weight"]')
    rows = weight.locator(".slice-row")
    assert rows.count() == 2
    assert [rows.nth(i).locator(".slice").evaluate_all("fs => fs.map((f) => f.dataset.slice)")
            for i in range(2)] == [["0,0"], ["1,0"]]  # fmt: skip
    canvas = weight.locator('.slice[data-slice="1,0"] canvas').element_handle()
    probe = hover_cell(page, canvas, 2, 1, 3, 3)
    assert probe == f"0.weight[1, 0, 2, 1] = {api['gradients']['0.weight'][1][0][2][1]}"
    maps = page.eval_on_selector_all(".heatmap", "fs => fs.map((f) => f.dataset.param)")
    assert maps == list(api["gradients"])

    page.click("#trace")
    page.wait_for_selector("#trace-output[data-state=done]")
    assert_cards_hold(page.query_selector_all("#trace-steps > li[data-type]"), api["trace"])
    conv = page.locator('#trace-steps > li[data-layer="0"]')
    output = conv.locator('[data-pass="forward"] dd').nth(1)  # [2, 4, 4]: a map per channel
    assert output.locator(".slice").evaluate_all("fs => fs.map((f) => f.dataset.slice)") == [
        "0",
        "1",
    ]
    canvas = output.locator('.slice[data-slice="1"] canvas').element_handle()
    probe = hover_cell(page, canvas, 3, 0, 4, 4)
    assert probe == f"output[1, 3, 0] = {api['trace'][0]['output'][1][3][0]}"
    assert list(api["trace"][2]["values"]) == ["indices"]  # max_pool2d keeps them, shown above
    finish(page, "cnn")


def test_a_batch_of_many_channels_draws_the_first_32_maps_and_says_so(
    browser: Browser, live_url: str
) -> None:
    page = open_playground(browser, live_url, width=390, height=844)
    page.select_option("#preset", "cnn")
    page.fill("#layer-0-out_channels", "8")
    page.fill("#layer-4-in_features", str(8 * 2 * 2))
    page.fill("#x", json.dumps([CNN_X] * 5))
    page.fill("#y", json.dumps([1] * 5))
    page.click("#trace")
    page.wait_for_selector("#trace-output[data-state=done]")
    output = page.locator('#trace-steps > li[data-layer="0"] [data-pass="forward"] dd').nth(1)
    assert output.get_attribute("data-shape") == "[5,8,4,4]"  # 40 maps: a row per image
    rows = output.locator(".slice-row")
    assert rows.count() == 4
    slices = output.locator(".slice").evaluate_all("fs => fs.map((f) => f.dataset.slice)")
    assert slices == [f"{n},{c}" for n in range(4) for c in range(8)]
    assert output.locator(".slices > .hint").inner_text() == "The first 32 of 40 maps."
    assert page.evaluate(OVERFLOWING, "#trace-section") == []
    finish(page, "many-maps")


def test_an_error_is_shown_next_to_the_layer_it_names(browser: Browser, live_url: str) -> None:
    page = open_playground(browser, live_url)
    page.select_option("#preset", "linear")  # 2 → 1
    page.click("#add-layer")
    choose(page, "1", "residual")
    choose(page, "1-0", "linear", in_features="2")  # but the block's input is 1 wide
    page.click("#compute")
    page.wait_for_selector("#compute-output[data-state=error]")
    assert page.get_attribute("#layer-1-0", "aria-invalid") == "true"
    assert page.get_attribute("#layer-1-0-in_features", "aria-invalid") == "true"
    message = page.inner_text("#layer-1-0 > .layer-error")
    assert message.startswith("in_features: layer 1.0 (linear): takes 2 features")
    assert page.locator(".layer-error").count() == 1

    page.select_option("#preset", "cnn")
    page.fill("#layer-0-kernel_size", "0")
    page.click("#trace")
    page.wait_for_selector("#trace-output[data-state=error]")
    assert page.locator(".layer-error").all_inner_texts() == [
        "kernel_size: Input should be greater than or equal to 1"
    ]
    assert page.get_attribute("#layer-0", "aria-invalid") == "true"
    expect_refusals(page, "422 (Unprocessable Entity)", 2)

    page.fill("#layer-0-kernel_size", "3, x")  # not sent: said at once, where it was typed
    page.click("#compute")
    page.wait_for_selector("#compute-output[data-state=error]")
    assert page.inner_text("#problem-errors") == (
        'Layer 0 kernel size: a whole number, or two as "height, width"'
    )
    assert page.evaluate("document.activeElement.id") == "layer-0-kernel_size"
    assert len(page.calls) == 3  # type: ignore[attr-defined]
    finish(page, "layer-errors")


KEY = "playground-test-key"


@pytest.fixture(scope="module")
def keyed_url() -> Iterator[str]:
    """A live server that wants the API key KEY."""
    with live_server(workers=1, GRADIENT_SERVICE_API_KEY=KEY) as server:
        yield server.url


# Under a key the page and its files stay open (they hold no data, like /docs); every API call
# the page makes carries the key typed into it.


def test_with_the_key_typed_in_every_call_carries_it(browser: Browser, keyed_url: str) -> None:
    page = open_playground(browser, keyed_url)
    expect_refusals(page, "401 (Unauthorized)", 1)  # GET examples/seed, no key yet
    assert "needs an API key" in page.inner_text("#api-key-message")
    assert page.get_attribute("#api-key", "aria-invalid") == "true"

    page.fill("#api-key", KEY)
    assert page.inner_text("#api-key-message") == ""
    page.press("#api-key", "Tab")  # the change event: the seed example loads now
    page.wait_for_selector("body[data-example=loaded]", state="attached")
    page.click("#compute")
    page.wait_for_selector("#compute-output[data-state=done]")
    page.click("#trace")
    page.wait_for_selector("#trace-output[data-state=done]")

    headers = {"X-API-Key": KEY}
    api = httpx.post(
        f"{keyed_url}/gradients", json=seed_problem(keyed_url, headers), headers=headers, timeout=30
    ).json()
    assert float(data_value(page, "#loss-value")) == api["loss"]
    calls = page.calls  # type: ignore[attr-defined]
    assert [call.path for call in calls] == ["/examples/seed"] * 2 + ["/gradients"] * 2
    assert [call.headers.get("x-api-key") for call in calls] == [None, KEY, KEY, KEY]
    assert page.evaluate("Object.values(sessionStorage)") == [KEY]
    assert page.evaluate("localStorage.length") == 0
    assert KEY not in page.url

    page.reload()  # the same tab keeps the key
    page.wait_for_selector("body[data-example=loaded]", state="attached")
    assert page.input_value("#api-key") == KEY
    reloaded = page.calls[-1]  # type: ignore[attr-defined]
    assert (reloaded.path, reloaded.headers.get("x-api-key")) == ("/examples/seed", KEY)
    finish(page, "key")


def test_without_the_key_a_401_is_explained_next_to_the_field(
    browser: Browser, keyed_url: str
) -> None:
    page = open_playground(browser, keyed_url)
    page.fill("#api-key", KEY)
    page.press("#api-key", "Tab")
    page.wait_for_selector("body[data-example=loaded]", state="attached")

    page.fill("#api-key", "")
    page.click("#compute")
    page.wait_for_selector("#compute-output[data-state=error]")
    assert page.inner_text("#api-key-message") == (
        "This service needs an API key (401 Unauthorized): type it here and try again."
    )
    assert page.get_attribute("#api-key", "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "api-key"
    assert "X-API-Key" in page.inner_text("#problem-errors")
    access = page.locator(".access").filter(has=page.locator("#api-key"))
    assert access.locator("#api-key-message").is_visible()  # next to the field

    page.fill("#api-key", "not-the-key")
    page.click("#compute")
    page.wait_for_selector("#compute-output[data-state=error]")
    assert page.inner_text("#api-key-message").startswith("The service refused this API key")
    keys = [call.headers.get("x-api-key") for call in page.calls[-2:]]  # type: ignore[attr-defined]
    assert keys == [None, "not-the-key"]
    expect_refusals(page, "401 (Unauthorized)", 3)
    finish(page, "key-refused")
