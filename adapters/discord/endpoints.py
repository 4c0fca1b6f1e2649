"""Where discord.py sends its REST calls and opens its gateway: the one place mentorbot changes discord.py's
process-wide settings. `serve` and `doctor` call these when they start, never at import.

There is no other way in discord.py 2.x: every `Route` builds its URL from the class attribute `Route.BASE`
(HTTPClient's options, connector, proxy, proxy_auth, http_trace, only change how a request travels, not
its host), and `Client.connect()` takes no gateway: the first connection opens
`DiscordWebSocket.DEFAULT_GATEWAY`. So both are class attributes set here, for the whole process.
"""

from __future__ import annotations

from dataclasses import dataclass

import discord
import yarl


@dataclass(frozen=True)
class Endpoints:
    """discord.py's REST base and gateway URL at one moment (to put them back: tests)."""

    api: str
    gateway: yarl.URL


def current() -> Endpoints:
    """Where discord.py points now."""
    return Endpoints(discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)


def restore(saved: Endpoints) -> None:
    """Point discord.py back where `saved` says."""
    discord.http.Route.BASE = saved.api
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved.gateway


def use_api(api_url: str) -> None:
    """Send every REST call (webhooks and interaction callbacks included) to `api_url`."""
    discord.http.Route.BASE = api_url


def use_gateway(gateway_url: str) -> None:
    """Open the gateway at `gateway_url` (the one the API's /gateway/bot names) on the next connection."""
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
