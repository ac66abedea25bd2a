import httpx

from service import __version__


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": __version__,
        "engines": ["autograd", "manual", "numeric"],
    }


async def test_unknown_route_and_method_keep_the_error_format(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json() == {"detail": [{"type": "http_error", "loc": [], "msg": "Not Found"}]}
    wrong = await client.get("/gradients")
    assert wrong.status_code == 405
    assert wrong.json()["detail"][0]["msg"] == "Method Not Allowed"
