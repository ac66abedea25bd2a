"""The playground in headless Chromium against a live server, driven by Playwright.

Chromium is Debian's (/usr/bin/chromium, installed by scripts/ensure-chromium when missing; never
`playwright install`). Every request the page makes to anywhere but the live server is aborted
and fails the test. Each test keeps a screenshot in tests/artifacts/ (gitignored).
"""

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.api.test_docs_browser import (  # noqa: F401 - chromium is a fixture used by name
    ARTIFACTS,
    HEADLESS_FLAGS,
    chromium,
)

pytestmark = pytest.mark.live

TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:  # noqa: F811 - the imported fixture
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=HEADLESS_FLAGS)
        yield browser
        browser.close()


def open_playground(browser: Browser, live_url: str, width: int = 1280, height: int = 1000) -> Page:
    """The page at /, ready, with every request elsewhere aborted and remembered."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(TIMEOUT_MS)
    elsewhere: list[str] = []
    errors: list[str] = []

    def route(route: Any) -> None:
        if route.request.url.startswith(f"{live_url}/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_url}/")
    page.wait_for_selector("body[data-ready=true]", state="attached")
    page.elsewhere = elsewhere  # type: ignore[attr-defined]
    page.errors = errors  # type: ignore[attr-defined]
    return page


def finish(page: Page, name: str) -> None:
    """Keep a screenshot; the page must have asked nothing of anyone else, and logged no error."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"playground-{name}.png", full_page=True)
    assert page.elsewhere == []  # type: ignore[attr-defined]
    assert page.errors == []  # type: ignore[attr-defined]
    page.close()


def seed_problem(live_url: str) -> dict[str, Any]:
    """What the page sends for the seed example: GET /examples/seed and the default dtype."""
    return {**httpx.get(f"{live_url}/examples/seed", timeout=30).json(), "dtype": "float64"}


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
    rows = page.query_selector_all("#deviations tbody tr")
    assert [row.get_attribute("data-quantity") for row in rows] == [
        "loss",
        "prediction",
        *(f"gradients.{name}" for name in api["gradients"]),
        "input_gradient",
    ]
    for row in rows:
        quantity = expected[str(row.get_attribute("data-quantity"))]
        max_abs, max_rel, agree = row.query_selector_all("td")
        assert float(str(max_abs.get_attribute("data-value"))) == quantity["max_abs"]
        assert float(str(max_rel.get_attribute("data-value"))) == quantity["max_rel"]
        assert agree.inner_text() == ("yes" if quantity["agree"] else "no")

    heatmaps = page.query_selector_all(".heatmap canvas")
    assert [c.get_attribute("data-param") for c in heatmaps] == list(api["gradients"])
    finish(page, "compute")


def test_trace_shows_every_layer(browser: Browser, live_url: str) -> None:
    page = open_playground(browser, live_url)
    page.click("#trace")
    page.wait_for_selector("#trace-output[data-state=done]")
    rows = page.query_selector_all("#trace-table tbody tr")
    layers = [layer["type"] for layer in seed_problem(live_url)["network"]["layers"]]
    assert [row.query_selector("th").inner_text() for row in rows] == [  # type: ignore[union-attr]
        f"{i}: {kind}" for i, kind in enumerate(layers)
    ]
    for row, kind in zip(rows, layers, strict=True):
        z, a, grad_a, grad_z = (cell.inner_text() for cell in row.query_selector_all("td"))
        assert z.startswith("[")
        assert grad_z.startswith("[")
        assert (a == "—") == (grad_a == "—") == (kind == "linear")
    finish(page, "trace")


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
    finish(page, "check")


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


def test_the_small_cnn_preset_computes_and_maps_each_channel(
    browser: Browser, live_url: str
) -> None:
    page = open_playground(browser, live_url)
    page.select_option("#preset", "cnn")
    assert page.input_value("#layer-0-type") == "conv2d"
    assert page.input_value("#layer-0-kernel_size") == "3"
    page.click("#compute")
    page.wait_for_selector("#compute-output[data-state=done]")
    assert page.inner_text("#agree-value") == "yes"
    assert len(json.loads(data_value(page, "#prediction-value"))) == 3  # one image, 3 classes
    weight_maps = page.query_selector_all('.heatmap canvas[data-param="0.weight"]')
    slices = [c.evaluate("c => c.closest('figure').dataset.slice") for c in weight_maps]
    assert slices == ["0,0", "1,0"]  # [out, in, kh, kw]: a map per output channel
    finish(page, "cnn")


def test_an_error_naming_a_layer_marks_it(browser: Browser, live_url: str) -> None:
    page = open_playground(browser, live_url)
    page.select_option("#preset", "cnn")
    page.fill("#layer-0-kernel_size", "0")
    page.dispatch_event("#layer-0-kernel_size", "change")
    page.click("#compute")
    page.wait_for_selector("#compute-output[data-state=error]")
    assert page.get_attribute("#layer-0", "aria-invalid") == "true"
    assert "kernel_size" in page.inner_text("#problem-errors")
    console = page.errors  # type: ignore[attr-defined]
    assert console == [
        "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
    ]  # the refusal itself, and nothing else
    console.clear()
    finish(page, "cnn-error")
