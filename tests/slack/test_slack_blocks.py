"""Block Kit rendering stays within Slack's limits without losing text, and escapes what people typed."""

from __future__ import annotations

from adapters.slack.blocks import (
    MAX_FIELD,
    MAX_TEXT,
    core_action,
    form_submission,
    form_view,
    message_blocks,
)
from bot.messages import Button, Form, FormField, Message
from tests.slack.conftest import text_of


def test_long_text_and_long_fields_are_split_not_cut() -> None:
    lines = [f"#{i} Mentor {i} (mentor) & Mentee {i} (mentee): met 3/4, avg 4.2" for i in range(400)]
    message = Message("\n".join(lines), (("Pairs", "\n".join(lines)), ("Failed", "0")))
    blocks = message_blocks(message)
    for block in blocks:
        assert len(block.get("text", {}).get("text", "")) <= MAX_TEXT
        assert all(len(f["text"]) <= MAX_FIELD for f in block.get("fields", []))
    shown = text_of(blocks)
    assert shown.count("#399 Mentor 399") == 2 and "*Failed*\n0" in shown and len(blocks) <= 50


def test_mrkdwn_control_characters_are_escaped() -> None:
    shown = text_of(message_blocks(Message("hi <!channel> & <@U1>", (("a<b", "c>d"),))))
    assert "<!channel>" not in shown and "&lt;!channel&gt; &amp; &lt;@U1&gt;" in shown and "a&lt;b" in shown


def test_buttons_carry_the_core_action_and_value() -> None:
    buttons = tuple(Button(str(n), "feedback.rate", f"7:{n}") for n in range(1, 6))
    actions = message_blocks(Message("rate", buttons=buttons))[-1]["elements"]
    assert len({a["action_id"] for a in actions}) == 5  # unique within the block, as Slack requires
    assert {core_action(a["action_id"]) for a in actions} == {"feedback.rate"}
    assert [a["value"] for a in actions] == [f"7:{n}" for n in range(1, 6)]
    assert core_action("somebody.else") is None


def test_forms_round_trip_through_a_modal() -> None:
    form = Form("escalation.resolve", "Resolve escalation #12345678", (FormField("note", "What was done", True),),
                state="12", submit_label="Resolve")
    view = form_view(form, {"response_url": "https://hooks.example/1"})
    assert len(view["title"]["text"]) <= 24 and view["blocks"][0]["optional"] is False
    view["state"] = {"values": {"note": {"value": {"type": "plain_text_input", "value": "Talked"}}}}
    assert form_submission(view) == ("escalation.resolve", "12", {"note": "Talked"},
                                     {"response_url": "https://hooks.example/1"})
    assert form_submission({"private_metadata": "{}"}) is None
