"""The playground marks kinks: a relu network whose pre-activations all sit at 0, computed with
central differences too, in headless Chromium against a live server (see
test_playground_browser.py for the page's harness)."""

import json

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.api.test_docs_browser import chromium  # noqa: F401 - a fixture used by name
from tests.api.test_playground_browser import (  # noqa: F401 - browser is a fixture used by name
    browser,
    finish,
    hover_cell,
    open_playground,
)

pytestmark = pytest.mark.live

HIDDEN = 16  # the "relu" preset: 2-16-1
WEIGHTS = {
    "0.weight": [[0.1 * (i + 1), 0.1 * (i + 1)] for i in range(HIDDEN)],  # x = [1, −1] → z = 0
    "0.bias": [0.0] * HIDDEN,
    "2.weight": [[(-1.0) ** i for i in range(HIDDEN)]],
    "2.bias": [0.1],
}


def relu_at_zero(on: Browser, live_url: str) -> Page:
    """The page with the relu preset, its pre-activations all at 0 (WEIGHTS, x = [1, −1])."""
    page = open_playground(on, live_url)
    page.select_option("#preset", "relu")
    page.check("#weights-from-paste")
    page.fill("#weights", json.dumps(WEIGHTS))
    page.fill("#x", "[1.0, -1.0]")
    page.fill("#y", "[0.4]")
    return page


def test_entries_at_kinks_are_left_out_counted_and_outlined(
    browser: Browser,  # noqa: F811 - the imported fixture
    live_url: str,
) -> None:
    page = relu_at_zero(browser, live_url)
    page.check("#numeric")
    page.click("#compute")
    page.wait_for_selector("#compute-output[data-state=done]")

    body = page.calls[-1].body  # type: ignore[attr-defined]
    assert body["engines"] == ["autograd", "manual", "numeric"]
    api = httpx.post(f"{live_url}/gradients", json=body, timeout=30).json()
    numeric = api["deviations"]["numeric"]
    assert numeric["kink_count"] == 2 * HIDDEN + HIDDEN + 2
    assert page.inner_text("#agree-value") == "yes"

    kinks = {
        row.get_attribute("data-quantity"): row.query_selector("td.kinks").get_attribute(
            "data-kinks"
        )  # type: ignore[union-attr]
        for row in page.query_selector_all("#deviations-numeric tbody tr")
    }
    assert kinks == {"loss": "0", "prediction": "0", "gradients.0.weight": "32",
                     "gradients.0.bias": "16", "gradients.2.weight": "0",
                     "gradients.2.bias": "0", "input_gradient": "2"}  # fmt: skip
    assert "relu'(0) = 0" in page.inner_text("#deviations-numeric + .kink-note")

    canvas = page.locator('.heatmap[data-param="0.weight"] canvas').element_handle()
    assert canvas is not None
    assert canvas.get_attribute("data-kinks") == "32"
    probe = hover_cell(page, canvas, 3, 1, HIDDEN, 2)
    assert api["gradients"]["0.weight"][3][1] == 0  # torch's relu'(0) = 0 (JavaScript: "0")
    assert probe == "0.weight[3, 1] = 0 (at a kink)"
    smooth = page.locator('.heatmap[data-param="2.weight"] canvas').element_handle()
    assert smooth is not None
    assert smooth.get_attribute("data-kinks") == "0"
    finish(page, "kinks")


def test_check_counts_a_valid_one_sided_derivative_right_and_outlines_it(
    browser: Browser,  # noqa: F811 - the imported fixture
    live_url: str,
) -> None:
    """The student's relu'(0) = 1: every gradient upstream of the relu is the other side's."""
    page = relu_at_zero(browser, live_url)
    g = 2 * (0.1 - 0.4)  # dL/dp: every a is 0, p = 2.bias
    upstream = [g * w for w in WEIGHTS["2.weight"][0]]  # dL/dz with relu'(0) = 1
    candidate = {
        "0.weight": [[u * 1.0, u * -1.0] for u in upstream],
        "0.bias": upstream,
        "2.weight": [[0.0] * HIDDEN],
        "2.bias": [g],
    }
    page.fill("#candidate", json.dumps(candidate))
    page.click("#check")
    page.wait_for_selector("#check-output[data-state=done]")

    assert page.get_attribute("#check-verdict", "data-verdict") == "pass"
    assert "relu'(0) = 0" in page.inner_text("#check-kinks")
    assert page.inner_text("#check-kinks").startswith(
        f"{2 * HIDDEN + HIDDEN} entries sit at a kink"
    )
    outlined = page.query_selector_all('td.kink[data-param="0.bias"]')
    assert len(outlined) == HIDDEN
    assert page.query_selector_all("td.wrong") == []
    finish(page, "check-kinks")
