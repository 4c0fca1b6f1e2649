"""The Slack adapter (slack-bolt): `mentorbot run --slack` and `mentorbot doctor` reach it through PLATFORM."""

from __future__ import annotations

from adapters.platform import Platform
from adapters.slack.people import open_people
from adapters.slack.app import SlackAdapter
from adapters.slack.doctor import doctor
from adapters.slack.pacing import shared_pacer
from adapters.slack.server import serve_http, serve_socket_mode
from adapters.slack.settings import SlackSettings, load
from bot.core import MentorBot


async def serve(bot: MentorBot, settings: SlackSettings) -> None:
    """Register the Slack messenger on the bot, then serve HTTP or Socket Mode until cancelled."""
    # Replicas on one database share Slack's budget instead of each spending all of it.
    adapter = SlackAdapter(bot, settings, pacer=shared_pacer(bot.db, settings.slack_bot_token))
    bot.add_messenger(adapter.messenger)
    try:
        if settings.slack_app_token:
            await serve_socket_mode(adapter.app, settings.slack_app_token)
        else:
            await serve_http(adapter.app, settings.port, bot.health)
    finally:
        await adapter.close()  # finishes the work in flight, then closes the Web API session


PLATFORM = Platform(name="slack", load=load, serve=serve, doctor=doctor, people=open_people)
