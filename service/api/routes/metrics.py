"""GET /metrics: every metric in the Prometheus text format, for a scraper; not in the schema."""

from typing import Annotated

from fastapi import APIRouter, Header, Response

from service.api.observability import exposition

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(accept: Annotated[str | None, Header()] = None) -> Response:
    body, content_type = exposition(accept)
    return Response(body, media_type=content_type)
