"""The core's messages as Discord messages: text, an embed for the fields, buttons that survive restarts,
and forms as modals. Both carry all their state in custom_id, so nothing lives only in this process."""

from __future__ import annotations

import re
from typing import Any, Protocol, cast

import discord

from adapters.limits import clip
from bot.messages import Button, Form, Message

CONTENT_LIMIT = 2000
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
MAX_FIELDS = 25
MODAL_TITLE_LIMIT = 45
LABEL_LIMIT = 45
DESCRIPTION_LIMIT = 100
TEXT_DISPLAY_LIMIT = 4000
INPUT_MAX_LENGTH = 4000
CUSTOM_ID_LIMIT = 100
BUTTONS_PER_ROW = 5

# custom_id layouts. The server id is inside because a click in a DM carries no server.
BUTTON_ID = re.compile(r"mb\|(?P<ws>\d+)\|(?P<action>[a-z_.]+)\|(?P<value>[^|]*)")
FORM_ID = re.compile(r"mf\|(?P<ws>\d+)\|(?P<form>[a-z_.]+)\|(?P<state>[^|]*)")

_STYLES = {"primary": discord.ButtonStyle.primary, "danger": discord.ButtonStyle.danger}


class ButtonSink(Protocol):
    """The client: what a click on a core button does."""

    async def on_button(self, interaction: discord.Interaction[Any], workspace: str, action_id: str,
                        value: str) -> None: ...


def _custom_id(layout: re.Pattern[str], *parts: str) -> str:
    """`parts` joined by | as a custom_id of `layout`; ValueError when they do not fit it or Discord's limit."""
    custom_id = "|".join(parts)
    if not layout.fullmatch(custom_id) or len(custom_id) > CUSTOM_ID_LIMIT:
        raise ValueError(f"does not fit a custom_id: {custom_id!r}")
    return custom_id


def button_id(workspace: str, button: Button) -> str:
    return _custom_id(BUTTON_ID, "mb", workspace, button.action_id, button.value)


def form_id(workspace: str, form: Form) -> str:
    return _custom_id(FORM_ID, "mf", workspace, form.form_id, form.state)


class ActionButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=BUTTON_ID.pattern):
    """Any button the core made. Built again from custom_id on every click, so clicks work after a restart."""

    def __init__(self, workspace: str, button: Button) -> None:
        super().__init__(
            discord.ui.Button(label=clip(button.label, 80), style=_STYLES.get(button.style, discord.ButtonStyle.secondary),
                              custom_id=button_id(workspace, button))
        )
        self.workspace, self.action_id, self.value = workspace, button.action_id, button.value

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ActionButton:
        return cls(match["ws"], Button(getattr(item, "label", None) or "", match["action"], match["value"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await cast(ButtonSink, interaction.client).on_button(interaction, self.workspace, self.action_id, self.value)


def view_for(message: Message, workspace: str) -> discord.ui.View | None:
    """The buttons as a view that never times out; None when the message has none."""
    if not message.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for i, button in enumerate(message.buttons):
        item = ActionButton(workspace, button)
        item.item.row = i // BUTTONS_PER_ROW
        view.add_item(item)
    return view


def embed_for(message: Message) -> discord.Embed | None:
    """The label/value fields as an embed (more room than message text, and a tidy table)."""
    if not message.fields:
        return None
    embed = discord.Embed()
    for label, value in message.fields[:MAX_FIELDS]:
        embed.add_field(name=clip(label, FIELD_NAME_LIMIT) or "-", value=clip(value, FIELD_VALUE_LIMIT) or "-",
                        inline=False)
    return embed


def attachments_for(message: Message, workspace: str) -> dict[str, Any]:
    """The embed and view keyword arguments for a send, only those the message needs."""
    extra: dict[str, Any] = {}
    if embed := embed_for(message):
        extra["embed"] = embed
    if view := view_for(message, workspace):
        extra["view"] = view
    return extra


def content_for(message: Message) -> str:
    return clip(message.text, CONTENT_LIMIT)


class FormModal(discord.ui.Modal):
    """A core Form as a modal, led by the reply that opened it (a modal replaces that reply).

    Its submission is read from the interaction (see client.on_interaction), not from this object, so a
    form opened before a restart can still be submitted after it."""

    def __init__(self, form: Form, workspace: str, intro: str) -> None:
        super().__init__(title=clip(form.title, MODAL_TITLE_LIMIT), custom_id=form_id(workspace, form), timeout=None)
        if intro:
            self.add_item(discord.ui.TextDisplay(clip(intro, TEXT_DISPLAY_LIMIT)))
        for field in form.fields:
            text_input: discord.ui.TextInput[FormModal] = discord.ui.TextInput(
                custom_id=field.name, required=field.required, max_length=min(field.max_length, INPUT_MAX_LENGTH),
                style=discord.TextStyle.paragraph if field.multiline else discord.TextStyle.short,
            )
            # A label holds 45 characters; a longer question goes whole into the description.
            long = len(field.label) > LABEL_LIMIT
            self.add_item(discord.ui.Label(text=clip(field.label, LABEL_LIMIT), component=text_input,
                                           description=clip(field.label, DESCRIPTION_LIMIT) if long else None))


def submitted_values(components: list[dict[str, Any]]) -> dict[str, str]:
    """custom_id -> value of every text input in a modal submission, however deeply it is nested."""
    values: dict[str, str] = {}
    for component in components:
        if "value" in component and "custom_id" in component:
            values[component["custom_id"]] = str(component["value"])
        children = component.get("components") or ([component["component"]] if "component" in component else [])
        values.update(submitted_values(children))
    return values

