"""tokenize() reads words as POSIX shell words (shlex.split) did, in time linear in the text; and text from
people is cleaned of control characters before the core sees it."""

from __future__ import annotations

import random
import shlex

import pytest

from bot.commands.parser import tokenize
from bot.errors import UserError
from bot.events import Actor, CommandEvent, FormSubmission
from bot.text import clean, clean_event

ALPHABET = ["a", "b", " ", "\t", "\n", '"', "'", "\\", "é", "#", "$", "\x00", "\u201c", "\u2019"]
SMART = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


def shell_words(text: str) -> list[str] | None:
    try:
        return shlex.split(text.translate(SMART))
    except ValueError:
        return None


def words(text: str) -> list[str] | None:
    try:
        return tokenize(text)
    except UserError as err:
        assert err.key == "error.unbalanced_quotes"
        return None


@pytest.mark.parametrize("text", [
    'a "b c" d', "a 'b c' d", 'a"b c"d', r"a\ b", r'"a \"b\" \\ \x"', r"'a \ b'", '""', "''", "a ''",
    "  lead and trail  ", r"end\\", "\\", '"open', "'open", 'x "a\nb"', "a\\\nb",
])
def test_the_same_words_as_shlex(text: str) -> None:
    assert words(text) == shell_words(text)


def test_the_same_words_as_shlex_on_random_text() -> None:
    rng = random.Random(8)
    for _ in range(20000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 10)))
        assert words(text) == shell_words(text), repr(text)


def test_a_long_text_is_read_whole() -> None:
    # (How long it takes is measured in bench/big_command.py; shlex took 19 s on 1 MB.)
    assert tokenize("problem " + "x" * 200_000) == ["problem", "x" * 200_000]
    assert len(tokenize("a " * 100_000)) == 100_000
    assert words('"' + "x" * 200_000) is None


def test_control_characters_go_tabs_and_newlines_stay() -> None:
    assert clean("a\x00b\x1b[0m\x7f\x85c\td\r\ne\rf") == "ab[0mc\td\ne\nf"
    actor = Actor("slack", "T\x001", "U\x00A", display_name="Al\x00ice")
    event = clean_event(FormSubmission(actor, "f\x00", "s", {"te\x00xt": "a\x00b"}, "e\x00"))
    assert event == FormSubmission(Actor("slack", "T1", "UA", "Alice"), "f", "s", {"text": "ab"}, "e")
    assert clean_event(CommandEvent(actor, "rematch \x00")).text == "rematch "
