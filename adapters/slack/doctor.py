"""`mentorbot doctor` for Slack: the mode, and whether Slack accepts the tokens."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

import prompts
from adapters.platform import Check
from adapters.slack.client import CONNECTION_FAILURES
from adapters.slack.settings import SlackSettings


async def doctor(settings: SlackSettings) -> list[Check]:
    """auth.test with the bot token; apps.connections.open with the app token in Socket Mode."""
    api = settings.slack_api_url
    checks = [Check(True, prompts.say("slack.doctor_mode_socket") if settings.socket_mode
                    else prompts.say("slack.doctor_mode_http", port=settings.port))]
    try:
        auth = await AsyncWebClient(token=settings.slack_bot_token, base_url=api, timeout=10).auth_test()
        checks.append(Check(True, prompts.say("slack.doctor_auth_ok", bot=auth.get("user"), team=auth.get("team"),
                                              url=auth.get("url"))))
    except SlackApiError as exc:
        checks.append(Check(False, prompts.say("slack.doctor_auth_failed", api=api, error=exc.response.get("error"))))
    except CONNECTION_FAILURES as exc:
        return checks + [Check(False, prompts.say("slack.doctor_unreachable", api=api, error=type(exc).__name__))]
    if settings.slack_app_token:
        try:
            await AsyncWebClient(base_url=api, timeout=10).apps_connections_open(app_token=settings.slack_app_token)
            checks.append(Check(True, prompts.say("slack.doctor_app_token_ok")))
        except SlackApiError as exc:
            checks.append(Check(False, prompts.say("slack.doctor_app_token_failed", error=exc.response.get("error"))))
    return checks
