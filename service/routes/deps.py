"""Typed dependencies shared by the routers."""

from typing import Annotated

from anyio import CapacityLimiter
from fastapi import Depends, Request

from service.config import Settings


async def get_settings(request: Request) -> Settings:  # async: no thread hop per request
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_heavy(request: Request) -> CapacityLimiter:
    """The worker's turns for heavy requests (Settings.heavy_requests)."""
    heavy: CapacityLimiter = request.app.state.heavy
    return heavy


HeavyDep = Annotated[CapacityLimiter, Depends(get_heavy)]
