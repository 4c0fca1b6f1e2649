"""A local fake of Discord for the tests: the REST API over HTTP and the gateway over a WebSocket, both on
127.0.0.1. It keeps just enough state (one server, its channels, members, threads, messages) to answer
like Discord, records every REST call, and can be told to fail calls (429, 5xx, error codes)."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

API = "/api/v10"
GUILD_ID = 111111111111111111
APP_ID = 222222222222222222
BOT_ID = 222222222222222222
ROLE_ID = 333333333333333333
GENERAL, LEADS, PAIRS = 444444444444444401, 444444444444444402, 444444444444444403
COORDINATOR_ROLE = "Mentorship Coordinator"
TIMESTAMP = "2026-11-30T08:00:00+00:00"
MANAGE_GUILD = 1 << 5


@dataclass
class Upload:
    """One file of a multipart/form-data request (a `files[n]` part), with its bytes."""

    field: str
    filename: str
    data: bytes
    content_type: str


@dataclass
class Call:
    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    body: Any  # the JSON body; of a multipart request, its payload_json
    files: list[Upload] = field(default_factory=list)


@dataclass
class Failure:
    method: str
    path: re.Pattern[str]
    status: int
    code: int
    times: int
    retry_after: float = 0.01
    after: bool = False  # do the work first, then fail (a reply lost on the way back)
    body: str | None = None  # served verbatim instead of Discord's JSON error (a proxy's page, nothing at all)
    content_type: str = "text/html"
    hang: bool = False  # never answer (until the fake stops): a call that times out


@dataclass
class FakeUser:
    id: int
    name: str
    roles: list[int] = field(default_factory=list)
    permissions: int = 0
    dms_closed: bool = False
    nick: str | None = None  # the server nickname

    def user(self) -> dict[str, Any]:
        return {"id": str(self.id), "username": self.name, "global_name": self.name.capitalize(),
                "discriminator": "0", "avatar": None}

    def member(self) -> dict[str, Any]:
        return {"user": self.user(), "roles": [str(r) for r in self.roles], "joined_at": TIMESTAMP,
                "deaf": False, "mute": False, "flags": 0, "nick": self.nick, "permissions": str(self.permissions)}


class FakeDiscord:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.failures: list[Failure] = []
        self.users: dict[int, FakeUser] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, dict[str, Any]] = {}  # id -> payload
        self.nonces: dict[tuple[int, str], int] = {}  # (channel, nonce) -> message id
        self.identify: dict[str, Any] | None = None
        self.forbidden_threads = False
        self.attachment_limit = 25 * 1024 * 1024  # bytes a file; larger ones are refused with 413
        self._ids = itertools.count(900000000000000001)
        self._seq = itertools.count(1)
        self._changed = asyncio.Condition()
        self._sockets: list[web.WebSocketResponse] = []
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self.url = ""
        for cid, name in ((GENERAL, "general"), (LEADS, "leads"), (PAIRS, "pairs")):
            self.channels[cid] = {"id": str(cid), "type": 0, "guild_id": str(GUILD_ID), "name": name, "position": 0,
                                  "permission_overwrites": [], "nsfw": False, "parent_id": None}

    # --- set-up ----------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url + API

    async def stop(self) -> None:
        self._stopping.set()
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def add_user(self, name: str, *, roles: list[int] | None = None, permissions: int = 0,
                 nick: str | None = None) -> FakeUser:
        user = FakeUser(next(self._ids), name, roles or [], permissions, nick=nick)
        self.users[user.id] = user
        return user

    def fail(self, method: str, path: str, status: int, code: int = 0, *, times: int = 1,
             retry_after: float = 0.01, after: bool = False, body: str | None = None,
             content_type: str = "text/html", hang: bool = False) -> None:
        """The next `times` calls matching METHOD and the path regex answer `status` with `code` (or with
        `body` as `content_type`, as a proxy in front of Discord might), or never answer when `hang`."""
        self.failures.append(Failure(method, re.compile(path), status, code, times, retry_after, after, body,
                                     content_type, hang))

    def delete_channel(self, channel_id: int) -> None:
        self.channels.pop(channel_id, None)

    # --- what happened -----------------------------------------------------------------------------

    def find(self, method: str, path: str) -> list[Call]:
        pattern = re.compile(path)
        return [c for c in self.calls if c.method == method and pattern.fullmatch(c.path)]

    def posts(self, channel_id: int | str) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if m["channel_id"] == str(channel_id)]

    async def wait_for(self, check: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait (on recorded events, not on the clock) until check() is truthy; returns its value."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                while not (found := check()):
                    await self._changed.wait()
        return found

    async def poke(self) -> None:
        """Wake the waiters (something outside the fake changed)."""
        await self._note()

    async def _note(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- gateway ---------------------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        for ws in self._sockets:
            await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45000}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            if frame["op"] == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif frame["op"] == 2:
                self.identify = frame["d"]
                await self.dispatch("READY", self._ready())
                await self.dispatch("GUILD_CREATE", self.guild())
                await self._note()
        self._sockets.remove(ws)
        return ws

    def _ready(self) -> dict[str, Any]:
        return {"v": 10, "user": self._bot(), "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
                "session_id": "fake-session", "resume_gateway_url": self.url + "/gateway",
                "application": {"id": str(APP_ID), "flags": 0}, "shard": [0, 1]}

    def _bot(self) -> dict[str, Any]:
        return {"id": str(BOT_ID), "username": "mentorbot", "discriminator": "0", "avatar": None, "bot": True,
                "global_name": None}

    def guild(self) -> dict[str, Any]:
        roles = [
            {"id": str(GUILD_ID), "name": "@everyone", "permissions": "0", "position": 0, "color": 0,
             "hoist": False, "managed": False, "mentionable": False, "flags": 0},
            {"id": str(ROLE_ID), "name": COORDINATOR_ROLE, "permissions": "0", "position": 1, "color": 0,
             "hoist": False, "managed": False, "mentionable": False, "flags": 0},
        ]
        return {"id": str(GUILD_ID), "name": "Study Club", "owner_id": "1", "roles": roles, "emojis": [],
                "features": [], "channels": [c for c in self.channels.values() if c["type"] == 0],
                "threads": [], "members": [], "member_count": len(self.users) + 1, "large": False,
                "unavailable": False, "joined_at": TIMESTAMP, "voice_states": [], "presences": [],
                "stickers": [], "premium_tier": 0, "preferred_locale": "en-US", "afk_channel_id": None,
                "system_channel_id": None, "verification_level": 0, "default_message_notifications": 0,
                "explicit_content_filter": 0, "mfa_level": 0, "nsfw_level": 0, "icon": None, "splash": None,
                "banner": None, "description": None, "vanity_url_code": None}

    # --- REST --------------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body: Any = None
        files: list[Upload] = []
        if request.can_read_body and request.content_type == "multipart/form-data":
            body, files = await _multipart(request)
        elif request.can_read_body:
            text = await request.text()
            body = json.loads(text) if text and request.content_type == "application/json" else text
        self.calls.append(Call(request.method, path, dict(request.query), body, files))
        try:
            failure = self._failure(request.method, path)
            if failure is not None and failure.hang:
                await self._stopping.wait()
            if failure is not None and not failure.after:
                return _error(failure)
            status, payload = self._route(request.method, path, body, request.headers, dict(request.query),
                                          files)
            if failure is not None:
                return _error(failure)
            if status == 204:
                return web.Response(status=204)
            return _json(payload, status)
        finally:
            await self._note()

    def _failure(self, method: str, path: str) -> Failure | None:
        for f in self.failures:
            if f.times > 0 and f.method == method and f.path.fullmatch(path):
                f.times -= 1
                return f
        return None

    def _route(self, method: str, path: str, body: Any, headers: Any,
               query: dict[str, str] | None = None, files: list[Upload] | None = None) -> tuple[int, Any]:
        # Interaction callbacks and followups are authorised by the interaction token in the path instead.
        if parts_need_auth(path) and headers.get("Authorization") != "Bot " + TOKEN:
            return 401, {"message": "401: Unauthorized", "code": 0}
        parts = path.strip("/").split("/")
        query = query or {}
        files = files or []
        if any(len(f.data) > self.attachment_limit for f in files):
            return 413, {"code": 40005, "message": "Request entity too large"}
        if len(files) > 10:
            return 400, {"code": 50035, "message": "Invalid Form Body (files: at most 10)"}
        match (method, parts):
            case ("GET", ["users", "@me"]):
                return 200, self._bot()
            case ("GET", ["oauth2", "applications", "@me"]):
                return 200, {"id": str(APP_ID), "name": "mentorbot", "description": "", "icon": None,
                             "bot_public": False, "bot_require_code_grant": False, "verify_key": "k",
                             "owner": self._bot(), "flags": 0}
            case ("GET", ["gateway", "bot"]):
                return 200, {"url": self.url + "/gateway", "shards": 1,
                             "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0,
                                                     "max_concurrency": 1}}
            case ("PUT", ["applications", _, *_]):
                return 200, [{**c, "id": str(next(self._ids)), "application_id": str(APP_ID), "version": "1",
                              "default_member_permissions": None, "type": c.get("type", 1)} for c in body]
            case ("GET", ["guilds", gid]):
                return (200, self.guild()) if int(gid) == GUILD_ID else (404, {"code": 10004, "message": "Unknown Guild"})
            case ("GET", ["guilds", gid, "members", "search"]):
                return self._search(int(gid), query)
            case ("GET", ["guilds", _, "members", uid]):
                user = self.users.get(int(uid))
                return (200, user.member()) if user else (404, {"code": 10007, "message": "Unknown Member"})
            case ("POST", ["users", "@me", "channels"]):
                return self._open_dm(int(body["recipient_id"]))
            case ("POST", ["channels", cid, "messages"]):
                return self._post(int(cid), body)
            case ("PATCH", ["channels", cid, "messages", mid]):
                return self._edit(int(cid), int(mid), body)
            case ("POST", ["channels", cid, "threads"]):
                return self._thread(int(cid), body)
            case ("PUT", ["channels", cid, "thread-members", uid]):
                if int(cid) not in self.channels:
                    return 404, {"code": 10003, "message": "Unknown Channel"}
                if int(uid) not in self.users:
                    return 404, {"code": 10007, "message": "Unknown Member"}
                self.channels[int(cid)].setdefault("members", []).append(uid)
                return 204, None
            case ("POST", ["interactions", iid, _, "callback"]):
                return self._callback(iid, body, files)
            case ("POST", ["webhooks", _, _]):
                return 200, self._message(GENERAL, body, keep=False, files=files)
            case ("PATCH", ["webhooks", _, _, "messages", _]):
                return 200, self._message(GENERAL, body, keep=False)
        return 404, {"code": 0, "message": f"fake Discord has no {method} {path}"}

    def _search(self, guild_id: int, query: dict[str, str]) -> tuple[int, Any]:
        """Members whose username or nickname starts with the query, ignoring case, as Discord searches."""
        if guild_id != GUILD_ID:
            return 404, {"code": 10004, "message": "Unknown Guild"}
        if not query.get("query"):
            return 400, {"code": 50035, "message": "Invalid Form Body"}
        wanted, limit = query["query"].casefold(), int(query.get("limit") or 1)
        found = [u.member() for u in self.users.values()
                 if any(n.casefold().startswith(wanted) for n in (u.name, u.nick or "") if n)]
        return 200, found[:limit]

    def _open_dm(self, user_id: int) -> tuple[int, Any]:
        user = self.users.get(user_id)
        if user is None:
            return 404, {"code": 10013, "message": "Unknown User"}
        cid = user_id + 1  # one DM channel per user, stable
        self.channels[cid] = {"id": str(cid), "type": 1, "recipients": [user.user()], "dm_of": user_id}
        return 200, {"id": str(cid), "type": 1, "recipients": [user.user()], "last_message_id": None}

    def _post(self, cid: int, body: dict[str, Any]) -> tuple[int, Any]:
        channel = self.channels.get(cid)
        if channel is None:
            return 404, {"code": 10003, "message": "Unknown Channel"}
        if "dm_of" in channel and self.users[channel["dm_of"]].dms_closed:
            return 403, {"code": 50007, "message": "Cannot send messages to this user"}
        nonce = body.get("nonce")
        if nonce and body.get("enforce_nonce") and (cid, nonce) in self.nonces:
            return 200, self.messages[self.nonces[(cid, nonce)]]  # Discord answers with the first message
        message = self._message(cid, body)
        if nonce:
            self.nonces[(cid, nonce)] = int(message["id"])
        return 200, message

    def _edit(self, cid: int, mid: int, body: dict[str, Any]) -> tuple[int, Any]:
        if cid not in self.channels:
            return 404, {"code": 10003, "message": "Unknown Channel"}
        message = self.messages.get(mid)
        if message is None:
            return 404, {"code": 10008, "message": "Unknown Message"}
        message.update({k: body[k] for k in ("content", "embeds", "components") if k in body})
        message["edited_timestamp"] = TIMESTAMP
        return 200, message

    def _thread(self, cid: int, body: dict[str, Any]) -> tuple[int, Any]:
        if cid not in self.channels:
            return 404, {"code": 10003, "message": "Unknown Channel"}
        if self.forbidden_threads:
            return 403, {"code": 50013, "message": "Missing Permissions"}
        tid = next(self._ids)
        thread = {"id": str(tid), "type": body["type"], "guild_id": str(GUILD_ID), "parent_id": str(cid),
                  "name": body["name"], "owner_id": str(BOT_ID), "message_count": 0, "member_count": 0,
                  "rate_limit_per_user": 0, "invitable": body.get("invitable", True),
                  "thread_metadata": {"archived": False, "auto_archive_duration": body["auto_archive_duration"],
                                      "archive_timestamp": TIMESTAMP, "locked": False}}
        self.channels[tid] = thread
        return 201, thread

    def _callback(self, iid: str, body: dict[str, Any], files: list[Upload]) -> tuple[int, Any]:
        kind = body["type"]
        resource: dict[str, Any] = {"type": kind}
        if kind in (4, 7):
            resource["message"] = self._message(GENERAL, body.get("data", {}), keep=False, files=files)
        return 200, {"interaction": {"id": iid, "type": 2, "response_message_loading": kind == 5,
                                     "response_message_ephemeral": bool(body.get("data", {}).get("flags", 0) & 64)},
                     "resource": resource}

    def _message(self, cid: int, body: dict[str, Any], *, keep: bool = True,
                 files: list[Upload] | None = None) -> dict[str, Any]:
        """A message as Discord returns it; replies to interactions are read from the calls, not kept."""
        mid = next(self._ids)
        attachments = [{"id": str(next(self._ids)), "filename": f.filename, "size": len(f.data),
                        "url": f"{self.url}/attachments/{mid}/{f.filename}",
                        "proxy_url": f"{self.url}/attachments/{mid}/{f.filename}",
                        "content_type": f.content_type, "ephemeral": bool(body.get("flags", 0) & 64)}
                       for f in files or []]
        message = {"id": str(mid), "channel_id": str(cid), "author": self._bot(), "content": body.get("content") or "",
                   "timestamp": TIMESTAMP, "edited_timestamp": None, "tts": False, "mention_everyone": False,
                   "mentions": [], "mention_roles": [], "attachments": attachments, "embeds": body.get("embeds") or [],
                   "pinned": False, "type": 0, "components": body.get("components") or [],
                   "flags": body.get("flags", 0), "nonce": body.get("nonce")}
        if keep:
            self.messages[mid] = message
        return message


TOKEN = "MTA.fake.token"


async def _multipart(request: web.Request) -> tuple[Any, list[Upload]]:
    """A multipart/form-data body as Discord reads it: the JSON of `payload_json`, and every file part."""
    body: Any = None
    files: list[Upload] = []
    async for part in await request.multipart():
        if not isinstance(part, BodyPartReader):
            continue
        data = await part.read()
        if part.name == "payload_json":
            body = json.loads(data)
        elif part.filename is not None:
            files.append(Upload(part.name or "", part.filename, bytes(data),
                                part.headers.get("Content-Type", "application/octet-stream")))
    return body, files


def parts_need_auth(path: str) -> bool:
    return not path.startswith(("/interactions/", "/webhooks/"))


def _json(payload: Any, status: int, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py parses a body as JSON only when Content-Type is exactly application/json (no charset).
    return web.Response(body=json.dumps(payload).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def _error(failure: Failure) -> web.Response:
    if failure.body is not None:
        return web.Response(body=failure.body.encode(), status=failure.status,
                            headers={"Content-Type": failure.content_type})
    if failure.status == 429:
        # discord.py treats a 429 without Via as a Cloudflare ban, as Discord's own come through Google's proxy.
        return _json({"message": "You are being rate limited.", "retry_after": failure.retry_after, "global": False},
                     429, {"Via": "1.1 google", "Retry-After": str(failure.retry_after)})
    return _json({"code": failure.code, "message": f"fake failure {failure.code}"}, failure.status)
