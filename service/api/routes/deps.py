"""Typed dependencies shared by the routers."""

from typing import Annotated

from fastapi import Depends, Request

from service.core.config import Settings


async def get_settings(request: Request) -> Settings:  # async: no thread hop per request
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
