"""Against a real uvicorn, started by `gradient-service serve --workers 2` on 127.0.0.1."""

import httpx
import pytest

from service.schemas.responses import GradientsResponse

pytestmark = pytest.mark.live


def test_health_and_seed_example(live_url: str) -> None:
    with httpx.Client(base_url=live_url, timeout=30) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        response = client.post("/gradients", json={})
        assert response.status_code == 200
        body = GradientsResponse.model_validate_json(response.content)
        assert body.agree
        assert body.deviations["manual"].max_abs <= 1e-15


def test_keep_alive_connection_serves_many_requests(live_url: str) -> None:
    with httpx.Client(base_url=live_url, timeout=30) as client:
        losses = {
            client.post("/gradients", json={"x": [0.1, 0.2]}).json()["loss"] for _ in range(20)
        }
    assert len(losses) == 1


@pytest.mark.parametrize(
    ("content", "status"),
    [(b'{"x": [NaN, 1]}', 422), (b'{"x": [1e400, 1]}', 422), (b"{", 400), (b"\xff\xfe", 400)],
)
def test_hostile_bodies_get_a_4xx_json(live_url: str, content: bytes, status: int) -> None:
    headers = {"content-type": "application/json"}
    response = httpx.post(f"{live_url}/gradients", content=content, headers=headers, timeout=30)
    assert response.status_code == status
    assert response.json()["detail"][0]["loc"][0] == "body"
