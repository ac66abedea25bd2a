"""A misspelt field is still refused (a 422 naming it), with the nearest valid name when one is
close: at the top of a request, inside a layer, inside nested options."""

from typing import Any

import httpx
import pytest


@pytest.mark.parametrize(
    ("path", "body", "loc", "nearest"),
    [
        ("/train", {"epoch": 50}, ["body", "epoch"], "epochs"),
        # more unknown fields than max_errors: Strict makes their errors itself
        ("/train", {"epoch": 50, **{f"x{i}": i for i in range(100)}}, ["body", "epoch"], "epochs"),
        ("/gradients", {"engine": ["autograd"]}, ["body", "engine"], "engines"),
        ("/gradients", {"learningrate": 0.1}, ["body", "learningrate"], "learning_rate"),
        (
            "/gradients",
            {"network": {"layers": [{"type": "linear", "in_feature": 2, "out_features": 1}]}},
            ["body", "network", "layers", 0, "in_feature"],
            "in_features",
        ),
        ("/gradients", {"numeric": {"stepp": 1e-5}}, ["body", "numeric", "stepp"], "step"),
        (
            "/gradients/check",
            {"candidate": {"gradient": {}}},
            ["body", "candidate", "gradient"],
            "gradients",
        ),
    ],
)
async def test_a_misspelt_field_names_the_nearest(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], loc: list[Any], nearest: str
) -> None:
    response = await client.post(path, json=body)
    assert response.status_code == 422
    items = {tuple(item["loc"]): item for item in response.json()["detail"]}
    item = items[tuple(loc)]
    assert item["type"] == "extra_forbidden"
    assert item["msg"] == f'Extra inputs are not permitted: did you mean "{nearest}"?'
    assert item["ctx"]["did_you_mean"] == nearest


async def test_nothing_close_gets_no_suggestion(client: httpx.AsyncClient) -> None:
    response = await client.post("/gradients", json={"banana": 1})
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "banana"]
    assert item["msg"] == "Extra inputs are not permitted"
    assert "ctx" not in item


async def test_the_nearest_name_is_one_valid_where_the_field_is(client: httpx.AsyncClient) -> None:
    """The same misspelling at the top and in a layer: only the request has `learning_rate`."""
    layer = {"type": "linear", "in_features": 2, "out_features": 1, "learningrate": 0.1}
    body = {"network": {"layers": [layer]}, "learningrate": 0.1}
    response = await client.post("/gradients", json=body)
    assert response.status_code == 422
    messages = {tuple(item["loc"]): item["msg"] for item in response.json()["detail"]}
    assert messages == {
        ("body", "network", "layers", 0, "learningrate"): "Extra inputs are not permitted",
        ("body", "learningrate"): 'Extra inputs are not permitted: did you mean "learning_rate"?',
    }
