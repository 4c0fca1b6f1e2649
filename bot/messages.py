"""Platform-neutral outbound messages; adapters render them as Block Kit, discord.ui or text."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Button:
    label: str
    action_id: str
    value: str = ""
    style: str = "default"  # default | primary | danger


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    required: bool = False
    multiline: bool = True
    max_length: int = 1000


@dataclass(frozen=True)
class Form:
    """A modal asking for a few text fields; submitted back as a FormSubmission."""

    form_id: str
    title: str
    fields: tuple[FormField, ...]
    state: str = ""
    submit_label: str = "Submit"


@dataclass(frozen=True)
class Message:
    text: str
    fields: tuple[tuple[str, str], ...] = ()  # label/value pairs shown as a small table
    buttons: tuple[Button, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        # Spelled out, not dataclasses.asdict: asdict deep-copies every field, a third of planning a fan-out.
        return {
            "text": self.text,
            "fields": [list(f) for f in self.fields],
            "buttons": [{"label": b.label, "action_id": b.action_id, "value": b.value, "style": b.style}
                        for b in self.buttons],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        return cls(
            text=data["text"],
            fields=tuple(tuple(f) for f in data.get("fields", ())),  # type: ignore[misc]
            buttons=tuple(Button(**b) for b in data.get("buttons", ())),
        )


@dataclass(frozen=True)
class Attachment:
    """A file for the person who asked (a chart, an export, their own data). Sent privately with the reply,
    never queued: the outbox holds no blobs, and whoever wants it again asks again."""

    filename: str
    data: bytes
    title: str = ""


@dataclass
class Response:
    """What the actor sees right away: ephemeral messages and maybe a form to fill."""

    messages: list[Message] = field(default_factory=list)
    form: Form | None = None
    files: list[Attachment] = field(default_factory=list)
    # Work to do after this event's transaction commits, off its writer lock (a whole program's match, a
    # proposal approved in batches); it opens its own transactions, and what it answers is added to this.
    then: Callable[[], Awaitable[Response]] | None = None

    @property
    def text(self) -> str:
        return "\n".join(m.text for m in self.messages)
