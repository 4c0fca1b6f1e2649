"""Core Messages and Forms as Block Kit: pure translations, no I/O.

A button's Slack action_id is the core's action id plus `#<n>` (Slack wants action ids unique within a
block, and five rating buttons share one core action id); its value is the core's value."""

from __future__ import annotations

import json
import re
from typing import Any

from adapters.limits import clip, split_text
from bot.messages import Button, Form, Message

BUTTON_ACTION = re.compile(r"^([a-z_.]+)#\d+$")
FORM_CALLBACK = "mentorbot.form"
INPUT_ACTION = "value"
MAX_BLOCKS = 50
MAX_TEXT = 3000  # a section's text
MAX_FIELD = 2000  # a section field
MAX_FIELDS = 10  # fields per section
MAX_BUTTON_LABEL = 75
MAX_VIEW_TITLE = 24
MAX_METADATA = 3000
Blocks = list[dict[str, Any]]


def escape(text: str) -> str:
    """Slack mrkdwn control characters; a name typed as `<!channel>` must not ping anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _button(button: Button, index: int) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(button.label, MAX_BUTTON_LABEL), "emoji": True},
        "action_id": f"{button.action_id}#{index}",
        "value": button.value,
    }
    if button.style in ("primary", "danger"):
        element["style"] = button.style
    return element


def message_blocks(message: Message) -> Blocks:
    """One message: its text in sections, its fields as a two-column table (a field too long for a table
    cell, like a report's pair list, gets full-width sections of its own), its buttons in a row."""
    blocks = [_section(chunk) for chunk in split_text(escape(message.text), MAX_TEXT)] or [_section("-")]
    fields: list[dict[str, Any]] = []
    for label, value in message.fields:
        text = f"*{escape(label)}*\n{escape(value)}"
        if len(text) <= MAX_FIELD:
            fields.append({"type": "mrkdwn", "text": text})
            continue
        blocks += [{"type": "section", "fields": fields[i: i + MAX_FIELDS]} for i in range(0, len(fields), MAX_FIELDS)]
        fields = []
        blocks += [_section(chunk) for chunk in split_text(text, MAX_TEXT)]
    blocks += [{"type": "section", "fields": fields[i: i + MAX_FIELDS]} for i in range(0, len(fields), MAX_FIELDS)]
    if message.buttons:
        blocks.append({"type": "actions", "elements": [_button(b, i) for i, b in enumerate(message.buttons)]})
    return blocks[:MAX_BLOCKS]


def fallback_text(message: Message) -> str:
    """What notifications and screen readers show (escaped too: Slack reads it as mrkdwn)."""
    return clip(escape(message.text), MAX_TEXT)


def message_payload(message: Message) -> dict[str, Any]:
    """Keyword arguments for chat.postMessage / chat.update."""
    return {"text": fallback_text(message), "blocks": message_blocks(message)}


def reply_payload(messages: list[Message]) -> dict[str, Any]:
    """Several ephemeral messages as one reply (an ack body, a response_url post)."""
    blocks: Blocks = []
    for i, message in enumerate(messages):
        if i:
            blocks.append({"type": "divider"})
        blocks += message_blocks(message)
    text = "\n".join(fallback_text(m) for m in messages)
    return {"response_type": "ephemeral", "text": clip(text, MAX_TEXT), "blocks": blocks[:MAX_BLOCKS]}


def home_view(messages: list[Message]) -> dict[str, Any]:
    """The App Home tab."""
    return {"type": "home", "blocks": reply_payload(messages)["blocks"]}


def form_view(form: Form, reply_to: dict[str, str]) -> dict[str, Any]:
    """A modal for a core Form. The form id, its state and where to reply ride in private_metadata."""
    metadata = json.dumps({"form": form.form_id, "state": form.state, **reply_to})
    if len(metadata) > MAX_METADATA:  # a very long response_url: the reply then goes by DM
        metadata = json.dumps({"form": form.form_id, "state": form.state})
    blocks = []
    for f in form.fields:
        blocks.append({
            "type": "input",
            "block_id": f.name,
            "optional": not f.required,
            "label": {"type": "plain_text", "text": clip(f.label, MAX_FIELD)},
            "element": {
                "type": "plain_text_input",
                "action_id": INPUT_ACTION,
                "multiline": f.multiline,
                "max_length": min(f.max_length, MAX_TEXT),
            },
        })
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": clip(form.title, MAX_VIEW_TITLE)},
        "submit": {"type": "plain_text", "text": clip(form.submit_label, MAX_VIEW_TITLE)},
        "blocks": blocks,
    }


def form_submission(view: dict[str, Any]) -> tuple[str, str, dict[str, str], dict[str, str]] | None:
    """(form id, state, field values, where to reply) from a submitted modal; None if it is not ours."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
        form_id, state = str(meta.pop("form")), str(meta.pop("state", ""))
        values = {
            block: str((actions.get(INPUT_ACTION) or {}).get("value") or "")
            for block, actions in (view.get("state") or {}).get("values", {}).items()
        }
    except (ValueError, KeyError, AttributeError, TypeError):
        return None
    return form_id, state, values, {k: str(v) for k, v in meta.items()}


def core_action(slack_action_id: str) -> str | None:
    """The core's action id behind one of our buttons."""
    m = BUTTON_ACTION.match(slack_action_id)
    return m.group(1) if m else None

