"""A fake Slack Web API (and Socket Mode WebSocket) on 127.0.0.1 that records every call.

It keeps what a user would see (posted messages with their current blocks, opened modals, the App Home),
answers with Slack's shapes, and can be told to fail calls (429 with Retry-After, 500, error codes) or to
enforce Slack's rate limits on real time (for the benchmark)."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

Params = dict[str, Any]
# The signing secret the tests' Slack apps are configured with.
SECRET = "test-signing-secret"


@dataclass
class Call:
    method: str
    params: Params
    token: str | None = None


@dataclass
class Failure:
    status: int = 200
    error: str | None = None
    retry_after: float | None = None
    times: int = 1
    when: Callable[[Params], bool] = lambda params: True
    # A body that is not Slack's JSON (a proxy's error page, a truncated answer), served verbatim.
    body: str | None = None
    content_type: str = "application/json"


@dataclass
class RandomFaults:
    """Fail a random share of the calls to `method`, as a flaky Slack or proxy would (off unless set on the
    fake): `rate_limited` of them with 429 and Retry-After, `server_error` with a 500 or an HTML 502. Seeded,
    so a run can be repeated. Nothing is posted when a call fails."""

    method: str = "chat.postMessage"
    rate_limited: float = 0.0
    server_error: float = 0.0
    retry_after: float = 1.0
    seed: int = 0
    injected: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def pick(self, method: str) -> Failure | None:
        """The failure this call gets, or None to answer it normally."""
        if method != self.method:
            return None
        draw = self._rng.random()
        if draw < self.rate_limited:
            failure = Failure(429, retry_after=self.retry_after)
        elif draw < self.rate_limited + self.server_error:
            # Half Slack's own 500, half a proxy's HTML page in front of it.
            failure = Failure(500) if self._rng.random() < 0.5 else Failure(
                502, body="<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html")
        else:
            return None
        self.injected += 1
        return failure


@dataclass
class Posted:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    edits: int = 0
    at: float = field(default_factory=time.time)  # wall-clock moment the fake accepted the post


@dataclass
class SharedFile:
    """A file uploaded through files.getUploadURLExternal and the upload URL; `channels` is where
    files.completeUploadExternal shared it (empty: uploaded, never shared)."""

    id: str
    filename: str
    length: int
    data: bytes | None = None
    title: str = ""
    channels: list[str] = field(default_factory=list)
    comment: str = ""


@dataclass
class FakeSlack:
    team: str = "T1"
    bot_user: str = "UBOT"
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], Posted] = field(default_factory=dict)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    # method -> calls per minute, and seconds between posts to one channel; enforced only when set.
    limits: dict[str, int] = field(default_factory=dict)
    channel_interval: float | None = None
    burst: int = 5
    rejected: int = 0
    views: list[dict[str, Any]] = field(default_factory=list)  # modals opened, as Slack holds them
    files: dict[str, SharedFile] = field(default_factory=dict)  # file id -> what was uploaded and shared
    upload_failures: list[int] = field(default_factory=list)  # HTTP statuses the next upload POSTs answer
    chaos: RandomFaults | None = None  # random failures on top of `failures` (bench/chaos.py)
    socket_acks: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    _due: dict[str, float] = field(default_factory=dict)
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _connected: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    url: str = ""

    # --- setup -----------------------------------------------------------------------------

    def add_user(self, user_id: str, name: str, tz: str | None = "Europe/Berlin", *, admin: bool = False,
                 deleted: bool = False, email: str | None = None, display_name: str | None = None,
                 bot: bool = False) -> dict[str, Any]:
        """A member of the workspace; `email` is what users.lookupByEmail finds them by (none by default)."""
        user = {"id": user_id, "team_id": self.team, "name": name.lower(), "real_name": name, "tz": tz,
                "is_admin": admin, "is_owner": False, "deleted": deleted, "is_bot": bot,
                "profile": {"display_name": name if display_name is None else display_name, "real_name": name,
                            **({"email": email} if email else {})}}
        self.users[user_id] = user
        return user

    def fail(self, method: str, *, status: int = 200, error: str | None = None, retry_after: float | None = None,
             times: int = 1, when: Callable[[Params], bool] = lambda params: True, body: str | None = None,
             content_type: str = "application/json") -> None:
        """Answer the next `times` matching calls of `method` with this failure; `body` (with `content_type`)
        replaces Slack's {"ok": false, ...} with whatever a proxy or a broken upstream might send."""
        self.failures.setdefault(method, []).append(
            Failure(status, error, retry_after, times, when, body, content_type))

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/hooks/{hook}", self._hook)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/link/", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url + "/api/"

    async def stop(self) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what a test reads -------------------------------------------------------------------

    def called(self, method: str) -> list[Params]:
        return [c.params for c in self.calls if c.method == method]

    def hook_url(self, name: str) -> str:
        return f"{self.url}/hooks/{name}"

    def replies(self, hook: str) -> list[Params]:
        """Ephemeral replies posted through one response_url."""
        return [c.params for c in self.calls if c.method == f"hook:{hook}"]

    def in_channel(self, channel: str) -> list[Posted]:
        return [m for m in self.messages.values() if m.channel == channel]

    @staticmethod
    def dm_of(user: str) -> str:
        """The id of `user`'s DM with the app (what conversations.open users=<user> answers)."""
        return "D" + user.removeprefix("U")

    def shared_in(self, channel: str) -> list[SharedFile]:
        """Files shared into `channel`, in upload order."""
        return [f for f in self.files.values() if channel in f.channels]

    # --- the Web API ---------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> Params:
        params: Params = dict(request.query)
        body = await request.read()
        if body:
            if request.content_type == "application/json":
                params.update(json.loads(body))
            else:
                params.update(parse_qsl(body.decode()))
        for key in ("blocks", "view"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        return params

    def _rate_limited(self, method: str, params: Params) -> float | None:
        """Seconds to wait when this call is over an enforced limit (GCRA with a small burst)."""
        now = time.monotonic()
        keys = []
        if rate := self.limits.get(method):
            keys.append((method, 60.0 / rate, (self.burst - 1) * 60.0 / rate))
        if self.channel_interval and method == "chat.postMessage":
            keys.append((f"channel:{params.get('channel')}", self.channel_interval, 0.0))
        waits = [self._due.get(k, now) - tol - now for k, _, tol in keys]
        if waits and max(waits) > 0:
            return max(waits)
        for k, step, _ in keys:
            self._due[k] = max(self._due.get(k, now), now) + step
        return None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        auth = request.headers.get("Authorization", "")
        self.calls.append(Call(method, params, auth.removeprefix("Bearer ") or params.get("token")))
        for failure in self.failures.get(method, []):
            if failure.times > 0 and failure.when(params):
                failure.times -= 1
                return self._failed(failure)
        if self.chaos is not None and (failure := self.chaos.pick(method)) is not None:
            return self._failed(failure)
        if (wait := self._rate_limited(method, params)) is not None:
            self.rejected += 1
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(max(1, math.ceil(wait)))})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        result = handler(params)
        return web.json_response({"ok": True, **result} if "error" not in result else {"ok": False, **result})

    @staticmethod
    def _failed(failure: Failure) -> web.Response:
        headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
        if failure.body is not None:
            return web.Response(body=failure.body.encode(), status=failure.status,
                                headers={**headers, "Content-Type": failure.content_type})
        body = {"ok": False, "error": failure.error or ("ratelimited" if failure.status == 429 else "fatal")}
        return web.json_response(body, status=failure.status, headers=headers)

    def _auth_test(self, params: Params) -> Params:
        return {"team": "Test Team", "team_id": self.team, "user": "mentorbot", "user_id": self.bot_user,
                "bot_id": "BBOT", "url": "https://test.slack.com/"}

    def _users_info(self, params: Params) -> Params:
        user = self.users.get(str(params.get("user")))
        return {"user": user} if user else {"error": "user_not_found"}

    def _users_lookupByEmail(self, params: Params) -> Params:
        wanted = str(params.get("email", "")).lower()
        for user in self.users.values():
            if user["profile"].get("email", "").lower() == wanted and not user["deleted"]:
                return {"user": user}
        return {"error": "users_not_found"}

    def _users_list(self, params: Params) -> Params:
        """Every user, `limit` a page, the cursor being the index of the next page's first user."""
        users = list(self.users.values())
        start, limit = int(params.get("cursor") or 0), int(params.get("limit") or 0) or len(users) or 1
        following = str(start + limit) if start + limit < len(users) else ""
        return {"members": users[start:start + limit], "response_metadata": {"next_cursor": following}}

    def _conversations_open(self, params: Params) -> Params:
        members = sorted(str(params.get("users", "")).split(","))
        if any(m not in self.users for m in members):
            return {"error": "user_not_found"}
        if len(members) == 1:  # one person: their DM with the app, the conversation a post to their id lands in
            return {"channel": {"id": self.dm_of(members[0])}}
        return {"channel": {"id": "G" + "".join(m.removeprefix("U") for m in members)}}

    def _chat_postMessage(self, params: Params) -> Params:
        channel = str(params.get("channel"))
        if channel.startswith("U"):
            user = self.users.get(channel)
            if user is None:
                return {"error": "channel_not_found"}
            if user["deleted"]:
                return {"error": "account_inactive"}
            channel = "D" + channel.removeprefix("U")
        ts = f"{1000 + next(self._ts)}.000100"
        self.messages[(channel, ts)] = Posted(channel, ts, str(params.get("text", "")), params.get("blocks") or [])
        return {"channel": channel, "ts": ts}

    def _chat_update(self, params: Params) -> Params:
        posted = self.messages.get((str(params.get("channel")), str(params.get("ts"))))
        if posted is None:
            return {"error": "message_not_found"}
        posted.text, posted.blocks = str(params.get("text", "")), params.get("blocks") or []
        posted.edits += 1
        return {"channel": posted.channel, "ts": posted.ts}

    def _chat_postEphemeral(self, params: Params) -> Params:
        return {"message_ts": f"{1000 + next(self._ts)}.000200"}

    def _views_open(self, params: Params) -> Params:
        if str(params.get("trigger_id", "")).startswith("expired"):
            return {"error": "expired_trigger_id"}
        view = {**(params.get("view") or {}), "id": f"V{next(self._ts)}", "hash": "h1"}
        self.views.append(view)
        return {"view": view}

    def _views_publish(self, params: Params) -> Params:
        return {"view": params.get("view") or {}}

    def _files_getUploadURLExternal(self, params: Params) -> Params:
        try:
            length = int(params.get("length") or 0)
        except ValueError:
            length = 0
        if not params.get("filename") or length <= 0:
            return {"error": "missing_argument"}  # as Slack answers a length of 0
        file_id = f"F{next(self._ts):08d}"
        self.files[file_id] = SharedFile(file_id, str(params["filename"]), length)
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL: the bytes, raw (as slack-sdk sends them) or as a multipart `file` part."""
        file_id = request.match_info["file_id"]
        self.calls.append(Call(f"upload:{file_id}", {}))
        if self.upload_failures:
            return web.Response(status=self.upload_failures.pop(0), text="upload failed")
        pending = self.files.get(file_id)
        if pending is None or pending.data is not None:
            return web.Response(status=404, text="unknown upload")
        if request.content_type == "multipart/form-data":
            data = b""
            async for part in await request.multipart():
                data = await part.read()  # type: ignore[union-attr]
        else:
            data = await request.read()
        pending.data = data
        return web.Response(text=f"OK - {len(data)}")

    def _files_completeUploadExternal(self, params: Params) -> Params:
        try:
            wanted = json.loads(str(params.get("files") or "[]"))
        except ValueError:
            return {"error": "invalid_arguments"}
        uploaded = [self.files.get(str(w.get("id"))) for w in wanted]
        if not wanted or any(f is None or f.data is None for f in uploaded):
            return {"error": "file_not_found"}
        # Slack checks the declared length against what arrived.
        if any(f.length != len(f.data or b"") for f in uploaded if f is not None):
            return {"error": "file_upload_size_mismatch"}
        channels = [c for c in [params.get("channel_id"), *str(params.get("channels") or "").split(",")] if c]
        for f, w in zip(uploaded, wanted, strict=True):
            assert f is not None
            f.title, f.channels, f.comment = str(w.get("title") or f.filename), channels, str(
                params.get("initial_comment") or "")
        return {"files": [{"id": f.id, "name": f.filename, "title": f.title, "size": f.length}
                          for f in uploaded if f is not None]}

    def _apps_connections_open(self, params: Params) -> Params:
        return {"url": self.url.replace("http://", "ws://") + "/link/?ticket=t1"}

    async def _hook(self, request: web.Request) -> web.Response:
        self.calls.append(Call(f"hook:{request.match_info['hook']}", json.loads(await request.read())))
        return web.Response(text="ok")

    # --- Socket Mode -----------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1,
                                      "connection_info": {"app_id": "A1"}, "debug_info": {"host": "fake"}}))
        self._connected.set()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await self.socket_acks.put(json.loads(msg.data))
        return ws

    async def push(self, envelope: dict[str, Any]) -> None:
        """Deliver one Socket Mode envelope to the connected app."""
        await self._connected.wait()
        await self._sockets[-1].send_str(json.dumps(envelope))


def signed_headers(body: str, content_type: str, *, secret: str = SECRET, age: float = 0) -> dict[str, str]:
    """Headers Slack would send with `body`: signed with `secret`, stamped `age` seconds ago."""
    stamp = str(int(time.time() - age))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body) or ""
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}
