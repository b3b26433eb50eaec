"""Typed keys for what the aiohttp application holds."""

from __future__ import annotations

from aiohttp import web

from signaling.hub import SessionHub
from signaling.openapi import Api
from signaling.platform import Platform
from signaling.rooms import RoomRegistry

PLATFORM = web.AppKey("platform", Platform)
API = web.AppKey("api", Api)
ROOMS = web.AppKey("rooms", RoomRegistry)
HUBS = web.AppKey("hubs", dict[str, SessionHub])
