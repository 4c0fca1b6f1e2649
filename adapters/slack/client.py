"""The one AsyncWebClient every Slack call goes through, with slack-sdk's async retry handlers, on one HTTP session."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import (
    BackoffRetryIntervalCalculator,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack.pacing import Pacer

DEFAULT_RETRY_AFTER = 1.0
TIMEOUT = 10  # seconds per HTTP request; slack-sdk applies its own timeout only to sessions it opens itself
# What an HTTP call to Slack raises when the connection fails (refused, reset, timed out).
CONNECTION_FAILURES = (ClientError, TimeoutError, OSError)
# What a Web API call can raise once the retry handlers have given up.
CALL_FAILURES = (SlackApiError, *CONNECTION_FAILURES)


def retry_after(headers: Mapping[str, Any] | None) -> float | None:
    """The Retry-After header in seconds, however the headers are shaped."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(float(raw), 0.0)
            except ValueError:
                return None
    return None


class PacedRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack-sdk's 429 handler, but it waits through the pacer: every later call to the same method
    waits out the Retry-After too, and tests move time instead of sleeping."""

    def __init__(self, pacer: Pacer) -> None:
        super().__init__(max_retry_count=1)
        self.pacer = pacer

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error  # type: ignore[misc]
        wait = retry_after(response.headers)
        method = request.url.rstrip("/").rsplit("/", 1)[-1]
        await self.pacer.back_off(method, DEFAULT_RETRY_AFTER if wait is None else wait)
        state.next_attempt_requested = True
        await self.pacer.wait(method)
        state.increment_current_attempt()


def error_code(exc: SlackApiError) -> tuple[int, str]:
    """The HTTP status and Slack's error code of a failed call, whatever came back: Slack's JSON, a proxy's
    HTML or plain-text page, or a body that is not JSON at all (code `http_<status>` then)."""
    response: Any = exc.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None) or 0
    data = getattr(response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    return int(status), str(code or f"http_{status}")


class SlackClient(AsyncWebClient):
    """AsyncWebClient whose answers are always a dict: slack-sdk hands a text/plain body through as a str
    (and its validate() then calls str.get) and wraps undecodable JSON in a SlackApiError around the raw
    aiohttp response. Both become a SlackApiError with {"ok": false, "error": "http_<status>"}, like any 5xx."""

    async def _request(self, *, http_verb: str, api_url: str, req_args: dict[str, Any]) -> dict[str, Any]:
        try:
            res = await super()._request(http_verb=http_verb, api_url=api_url, req_args=req_args)
        except SlackApiError as exc:
            if isinstance(exc.response, AsyncSlackResponse):
                raise
            status, code = error_code(exc)
            raise SlackApiError(f"Slack answered {api_url} with a body that is not JSON (status {status})",
                                self._not_slack(http_verb, api_url, req_args, status, code)) from None
        data, status = res.get("data"), int(res.get("status_code") or 0)
        if not isinstance(data, dict) or "ok" not in data:
            res["data"] = {"ok": False, "error": f"http_{status}"}
        return res

    def _not_slack(self, http_verb: str, api_url: str, req_args: dict[str, Any], status: int,
                   code: str) -> AsyncSlackResponse:
        return AsyncSlackResponse(client=self, http_verb=http_verb, api_url=api_url, req_args=req_args,
                                  data={"ok": False, "error": code}, headers={}, status_code=status)


def make_session() -> ClientSession:
    """The HTTP session (and connection pool) Slack calls share; call inside the running loop, close when done.
    Without one, slack-sdk opens a session, so a new TCP and TLS connection, for every call."""
    return ClientSession(timeout=ClientTimeout(total=TIMEOUT))


def make_client(token: str, base_url: str, pacer: Pacer, session: ClientSession) -> AsyncWebClient:
    """A Web API client for `base_url` on `session` that retries 429s (after Retry-After) and dropped connections."""
    handlers: list[AsyncRetryHandler] = [
        PacedRateLimitRetry(pacer),
        AsyncConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=BackoffRetryIntervalCalculator(0.5)),
    ]
    return SlackClient(token=token, base_url=base_url, timeout=TIMEOUT, session=session, retry_handlers=handlers)
