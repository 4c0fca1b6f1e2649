"""The bolt AsyncApp: Slack payloads in, core events out, replies and modals back.

Acknowledging within Slack's 3 s: the app runs with process_before_response=True, so the HTTP answer
goes out the moment a listener returns (bolt otherwise polls for ack() every 10 ms). A slash command
waits up to ACK_BUDGET for the core (usually milliseconds) and answers in the ack itself; slower work
replies through the response_url. Clicks, form submissions and events are acked at once and handled
in tracked background tasks (what bolt's lazy listeners do, but awaitable, so tests need no sleeps)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from urllib.parse import urlparse

from aiohttp import ClientSession
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook.async_client import AsyncWebhookClient

import prompts
from adapters.limits import ACK_BUDGET
from adapters.slack.blocks import (
    BUTTON_ACTION,
    FORM_CALLBACK,
    core_action,
    form_submission,
    form_view,
    home_view,
    reply_payload,
)
from adapters.slack.client import CALL_FAILURES, make_client, make_session
from adapters.slack.files import MAX_FILE_BYTES, upload_to_dm
from adapters.slack.messenger import PLATFORM, SlackMessenger, profile_from_user
from adapters.slack.pacing import Pacer
from adapters.slack.settings import SlackSettings
from bot.core import MentorBot
from bot.events import (
    ActionEvent,
    Actor,
    CommandEvent,
    FormSubmission,
    MemberLeft,
)
from bot.messages import Form, Message, Response
from bot.messenger import Profile, ProfileUnavailable

log = logging.getLogger(__name__)
COMMAND = "/mentor"
RESPONSE_HOST = "hooks.slack.com"  # where Slack's response_urls point
CLICK_WINDOW = 5  # seconds: clicks of one button by one person within this window are one click


def reply_target(body: dict[str, Any]) -> dict[str, str]:
    """Where replies to a slash command or a click go: its response_url and its channel, when it has them."""
    reply_to = {"response_url": str(body["response_url"])} if body.get("response_url") else {}
    channel = body.get("channel")  # a click's {"id": ...}; a slash command has channel_id instead
    container = body.get("container") or {}
    if where := (channel.get("id") if isinstance(channel, dict) else None) or body.get("channel_id") \
            or container.get("channel_id"):
        reply_to["channel"] = str(where)
    return reply_to


class SameWorkspace(AsyncMiddleware):
    """Only requests from the workspace the bot token belongs to (auth.test's team, which bolt's own
    authorization looked up) reach a listener: another workspace's gets a refusal and creates nothing.
    A middleware class rather than a function: bolt calls it as is, where it builds a function's
    arguments anew for every request."""

    def __init__(self) -> None:
        self._strangers: set[str] = set()

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        context = req.context
        ours = context.authorize_result.team_id if context.authorize_result else None
        theirs = context.team_id
        if not ours or not theirs or theirs == ours:
            return await next()
        if theirs not in self._strangers:
            self._strangers.add(theirs)
            log.warning("refusing requests from Slack workspace %s: the bot token belongs to %s", theirs, ours)
        if req.body.get("command"):  # a person typed it: tell them, only them
            return BoltResponse(status=200, body=json.dumps(reply_payload([Message(prompts.say("slack.other_workspace"))])),
                                headers={"content-type": "application/json"})
        return BoltResponse(status=200, body="")  # acknowledged, so Slack does not redeliver it; nothing done


class SlackAdapter:
    """One workspace's bot token wired to the core: the bolt app, the messenger, and the tasks in flight.
    Construct it inside the running event loop, and close() it when done: it owns the HTTP session that
    every Web API call and response_url reply shares (one connection pool instead of one per call)."""

    def __init__(self, bot: MentorBot, settings: SlackSettings, *, pacer: Pacer | None = None) -> None:
        self.bot = bot
        self.ack_budget = ACK_BUDGET
        self.max_file_bytes = MAX_FILE_BYTES  # per file; tests lower it
        self.pacer = pacer or Pacer()
        self.session: ClientSession = make_session()
        self.client = make_client(settings.slack_bot_token, settings.slack_api_url, self.pacer, self.session)
        api = urlparse(settings.slack_api_url)
        self.api_origin = (api.scheme, api.netloc.lower())
        # Registered on the bot by whoever starts the adapter (serve, tests, benches), not here.
        self.messenger = SlackMessenger(self.client, self.pacer)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.app = AsyncApp(
            client=self.client,
            signing_secret=settings.slack_signing_secret,
            # Socket Mode requests are not signed: the app token's WebSocket is the authentication.
            request_verification_enabled=not settings.socket_mode,
            process_before_response=True,
        )
        self.app.use(SameWorkspace())
        self.app.command(COMMAND)(self._on_command)
        self.app.action(BUTTON_ACTION)(self._on_action)
        self.app.view(FORM_CALLBACK)(self._on_view)
        self.app.event("app_home_opened")(self._on_home)
        self.app.event("user_change")(self._on_user_change)
        self.app.event("app_uninstalled")(self._on_uninstalled)
        self.app.event("tokens_revoked")(self._on_uninstalled)
        self.app.error(self._on_error)

    # --- background work --------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("slack background task failed", exc_info=exc)

    async def drain(self) -> None:
        """Wait until every piece of work started by a request has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Finish the work in flight, then close the HTTP session (shutdown, tests, benches)."""
        await self.drain()
        await self.session.close()

    # --- who is acting ----------------------------------------------------------------------

    async def actor(self, team: str, user_id: str, fallback_name: str = "") -> Actor:
        """The actor with Slack's name, time zone and admin flag (users.info, cached)."""
        profile: Profile | None = None
        try:
            profile = await self.messenger.lookup_profile(team, user_id)
        except ProfileUnavailable:  # Slack being slow or down must not stop the person's command (logged there)
            pass
        if profile is None:  # unknown to Slack right now: keep what the core last knew of their rights
            return Actor(PLATFORM, team, user_id, display_name=fallback_name, is_admin=None)
        return Actor(PLATFORM, team, user_id, profile.display_name, profile.tz, profile.is_admin)

    # --- replies ------------------------------------------------------------------------------

    async def _tell(self, reply_to: dict[str, str], user: str, messages: list[Message]) -> None:
        """Messages only `user` sees: through the response_url, else ephemeral in the channel, else by DM."""
        if not messages:
            return
        payload = reply_payload(messages)
        url = reply_to.get("response_url")
        if url and not self._trusted_hook(url):
            # Only Slack makes response_urls; a payload naming another host must not make the bot call it.
            log.warning("not replying through a response_url on %r: not Slack's", urlparse(url).netloc[:100])
            url = None
        try:
            if url:
                await AsyncWebhookClient(url, session=self.session).send_dict({**payload, "replace_original": False})
            elif channel := reply_to.get("channel"):
                await self.client.chat_postEphemeral(channel=channel, user=user, text=payload["text"],
                                                     blocks=payload["blocks"])
            else:
                await self.client.chat_postMessage(channel=user, text=payload["text"], blocks=payload["blocks"])
        except CALL_FAILURES as exc:  # the reply is lost, the change it reports is not
            log.warning("could not reply to %s: %s", user, exc)

    async def _open_form(self, trigger_id: str | None, form: Form, reply_to: dict[str, str], user: str) -> None:
        """views.open within the trigger's 3 s; an expired (or missing) trigger gets a short reply instead."""
        expired = [Message(prompts.say("slack.form_expired"))]
        if not trigger_id:
            log.info("could not open form %s: no trigger_id", form.form_id)
            await self._tell(reply_to, user, expired)
            return
        try:
            await self.client.views_open(trigger_id=trigger_id, view=form_view(form, reply_to))
        except SlackApiError as exc:
            log.info("could not open form %s: %s", form.form_id, exc)
            await self._tell(reply_to, user, expired)

    async def _answer(self, response: Response, trigger_id: str | None, reply_to: dict[str, str], user: str) -> None:
        if response.form is not None:
            await self._open_form(trigger_id, response.form, reply_to, user)
        await self._tell(reply_to, user, response.messages + await self._files(user, response))

    async def _files(self, user: str, response: Response) -> list[Message]:
        """Upload the response's files to the person's DM; the line saying where they went (or why not)."""
        if not response.files:
            return []
        return [await upload_to_dm(self.client, self.pacer, user, response.files, self.max_file_bytes)]

    async def _send_files(self, reply_to: dict[str, str], user: str, response: Response) -> None:
        # After the ack: uploading takes several calls, more than a slash command's 3 s may allow.
        await self._tell(reply_to, user, await self._files(user, response))

    def _trusted_hook(self, url: str) -> bool:
        """Whether `url` is one of Slack's response URLs (https on hooks.slack.com), or on the configured
        Web API base (a local fake Slack in tests)."""
        try:
            parsed = urlparse(url)
            netloc = parsed.netloc.lower()
        except ValueError:
            return False
        if parsed.username or parsed.password:
            return False
        return (parsed.scheme == "https" and netloc == RESPONSE_HOST) or (parsed.scheme, netloc) == self.api_origin

    # --- listeners ----------------------------------------------------------------------------

    async def _on_command(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        team, user = str(body.get("team_id") or ""), str(body.get("user_id") or "")
        if not team or not user:
            await ack(reply_payload([Message(prompts.say("slack.bad_request"))]))
            return
        reply_to = reply_target(body)
        work = self._spawn(self._command(team, user, body))
        try:
            response = await asyncio.wait_for(asyncio.shield(work), self.ack_budget)
        except TimeoutError:
            await ack(reply_payload([Message(prompts.say("slack.working"))]))
            self._spawn(self._late_reply(work, reply_to, user))
            return
        await ack(reply_payload(response.messages) if response.messages else "")
        if response.files:
            self._spawn(self._send_files(reply_to, user, response))
        if response.form is not None:
            self._spawn(self._open_form(body.get("trigger_id"), response.form, reply_to, user))

    async def _command(self, team: str, user: str, body: dict[str, Any]) -> Response:
        actor = await self.actor(team, user, str(body.get("user_name") or ""))
        trigger = body.get("trigger_id")
        event = CommandEvent(actor, str(body.get("text") or "").strip(), body.get("channel_id"),
                             f"command:{trigger}" if trigger else None)
        return await self.bot.handle(event)

    async def _late_reply(self, work: asyncio.Task[Response], reply_to: dict[str, str], user: str) -> None:
        # The trigger has expired by now: a form would not open, so only messages are sent.
        response = await work
        await self._tell(reply_to, user, response.messages + await self._files(user, response))

    async def _on_action(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        self._spawn(self._action(body, action))

    async def _interactor(self, body: dict[str, Any]) -> Actor | None:
        """Who clicked or submitted, from an interactivity payload; None when it does not say."""
        user = body.get("user") or {}
        team = (body.get("team") or {}).get("id") or user.get("team_id")
        if not user.get("id") or not team:
            return None
        return await self.actor(str(team), str(user["id"]), str(user.get("name") or ""))

    async def _action(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        core_id = core_action(str(action.get("action_id") or ""))
        actor = await self._interactor(body) if core_id else None
        if actor is None or core_id is None:
            log.info("ignoring a malformed block_actions payload")
            return
        container = body.get("container") or {}
        reply_to = reply_target(body)
        where = container.get("message_ts") or container.get("view_id") or "-"
        try:
            window = int(float(action.get("action_ts") or 0) // CLICK_WINDOW)
        except ValueError:
            window = 0
        event_id = f"click:{where}:{action['action_id']}:{actor.user_id}:{window}"
        response = await self.bot.handle(ActionEvent(actor, core_id, str(action.get("value") or ""), event_id))
        await self._answer(response, body.get("trigger_id"), reply_to, actor.user_id)

    async def _on_view(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        self._spawn(self._submit(body, view))

    async def _submit(self, body: dict[str, Any], view: dict[str, Any]) -> None:
        parsed = form_submission(view)
        actor = await self._interactor(body) if parsed else None
        if actor is None or parsed is None:
            log.info("ignoring a malformed view_submission payload")
            return
        form_id, state, values, reply_to = parsed
        event_id = f"view:{view.get('id')}:{view.get('hash')}"
        response = await self.bot.handle(FormSubmission(actor, form_id, state, values, event_id))
        await self._answer(response, body.get("trigger_id"), reply_to, actor.user_id)

    async def _on_home(self, ack: AsyncAck, body: dict[str, Any], event: dict[str, Any]) -> None:
        await ack()
        if event.get("tab", "home") == "home" and event.get("user") and body.get("team_id"):
            self._spawn(self.publish_home(str(body["team_id"]), str(event["user"])))

    async def publish_home(self, team: str, user: str) -> None:
        """Render and publish a person's App Home tab."""
        messages = await self.bot.home(PLATFORM, team, user)
        try:
            await self.pacer.wait("views.publish")
            await self.client.views_publish(user_id=user, view=home_view(messages))
        except CALL_FAILURES as exc:
            log.warning("views.publish failed for %s: %s", user, exc)

    async def _on_user_change(self, ack: AsyncAck, body: dict[str, Any], event: dict[str, Any]) -> None:
        await ack()
        user = event.get("user") or {}
        team = str(body.get("team_id") or user.get("team_id") or "")
        if not user.get("id") or not team:
            return
        # The event carries the whole user, as users.info would return it: refresh the cache with it.
        profile = profile_from_user(user)
        self.messenger.remember(team, profile.user_id, None if user.get("deleted") else profile)
        if user.get("deleted"):
            # Slack marks an account deactivated or deleted so; either way the person is gone from the
            # workspace for good, so mentorbot forgets them (bot/flows/mydata.py), as forget-me would.
            actor = Actor(PLATFORM, team, profile.user_id, profile.display_name, profile.tz)
            event_id = str(body.get("event_id") or "") or None
            self._spawn(self.bot.handle(MemberLeft(actor, event_id, deleted=True)))

    async def _on_uninstalled(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        log.error("the Slack app was uninstalled or its tokens revoked in team %s; sends will fail until it "
                  "is reinstalled", body.get("team_id"))

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error("slack listener failed on %s", body.get("type"), exc_info=error)
