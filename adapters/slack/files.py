"""Files for the person who asked (a chart, an export, their own data), on Slack.

An ephemeral reply cannot carry a file, so the files go to the person's DM with the app: conversations.open
with that one user, then files_upload_v2 (files.getUploadURLExternal per file, the bytes POSTed to the upload
URL Slack returns, files.completeUploadExternal sharing them all into that DM at once). Only that person is
in the conversation, so nobody else sees them. What happened comes back as one short sentence for the reply."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.internal_utils import MAX_V2_FILE_SIZE

import prompts
from adapters.limits import file_size
from adapters.slack.client import CONNECTION_FAILURES, error_code
from adapters.slack.pacing import Pacer
from bot.messages import Attachment, Message

log = logging.getLogger(__name__)
MAX_FILE_BYTES = MAX_V2_FILE_SIZE  # Slack's own limit for one file (1 GiB), as slack-sdk enforces it
# The workspace's own file policy refused it.
POLICY = frozenset({"file_uploads_disabled", "file_uploads_except_images_disabled", "file_type_not_allowed",
                    "file_upload_size_restricted"})


def title_of(attachment: Attachment) -> str:
    return attachment.title or attachment.filename


def refusal(exc: Exception) -> str:
    """The sentence for a failed upload: what the person can do about it (the detail goes to the log)."""
    if isinstance(exc, SlackApiError):
        status, code = error_code(exc)
        if status == 429 or code == "ratelimited":
            return prompts.say("slack.files.busy")
        if code == "missing_scope":  # installed before files:write was in the manifest: an admin reinstalls
            return prompts.say("slack.files.needs_scope")
        if code in POLICY:
            return prompts.say("slack.files.policy", code=code)
        return prompts.say("slack.files.failed", code=code)
    if isinstance(exc, SlackRequestError):  # the upload URL answered something other than 200
        return prompts.say("slack.files.failed", code="upload")
    return prompts.say("slack.files.failed", code=type(exc).__name__)


async def upload_to_dm(client: AsyncWebClient, pacer: Pacer, user: str, files: list[Attachment],
                       max_bytes: int = MAX_FILE_BYTES) -> Message:
    """Share `files` into `user`'s DM with the app; returns the message saying where they went, which were
    too large and what failed. Never raises for anything Slack or the network does."""
    fitting = [f for f in files if len(f.data) <= max_bytes]
    lines = [prompts.say("slack.files.too_large", title=title_of(f), size=file_size(len(f.data)),
                         limit=file_size(max_bytes)) for f in files if len(f.data) > max_bytes]
    if fitting:
        try:
            await pacer.wait("conversations.open")
            opened = await client.conversations_open(users=user)
            channel = str(opened["channel"]["id"])
            for _ in fitting:
                await pacer.wait("files.getUploadURLExternal")
            await pacer.wait("files.completeUploadExternal")
            await client.files_upload_v2(
                file_uploads=[{"filename": f.filename, "content": f.data, "title": title_of(f)} for f in fitting],
                channel=channel, initial_comment=prompts.say("slack.files.comment", count=len(fitting)))
        except (SlackApiError, SlackRequestError, *CONNECTION_FAILURES) as exc:
            why = "/".join(map(str, error_code(exc))) if isinstance(exc, SlackApiError) else repr(exc)[:300]
            log.warning("could not upload %d file(s) to %s's DM: %s", len(fitting), user, why)
            lines.append(refusal(exc))
        else:
            lines.insert(0, prompts.say("slack.files.in_dm", titles=", ".join(title_of(f) for f in fitting)))
    return Message("\n".join(lines))
