"""The /mentor parser: words, quoted text, options, flags, mentions, channels and ids."""

import pytest

from bot.commands.dispatch import find
from bot.args import as_id, as_int_in
from bot.commands.parser import parse_args, tokenize
from bot.directory import Mention, parse_channel, parse_mention
from bot.errors import UserError
from bot.feature import Arg, Kind

OPTS = (Arg("tz", Kind.TZ), Arg("goals", Kind.TEXT), Arg("all", Kind.FLAG))


def test_quotes_and_phone_smart_quotes_keep_text_together() -> None:
    assert tokenize('profile --goals "learn SQL" --tz Europe/Berlin') == [
        "profile", "--goals", "learn SQL", "--tz", "Europe/Berlin"]
    assert tokenize("profile --goals \u201clearn SQL\u201d") == ["profile", "--goals", "learn SQL"]


def test_an_unclosed_quote_is_a_user_error() -> None:
    with pytest.raises(UserError) as err:
        tokenize('problem "he never shows up')
    assert err.value.key == "error.unbalanced_quotes"


def test_options_flags_and_words() -> None:
    args = parse_args(["a", "--tz=UTC", "b", "--goals", "x y", "--ALL"], OPTS, "u")
    assert (args.words, args.options, args.flags) == (["a", "b"], {"tz": "UTC", "goals": "x y"}, {"all"})
    assert args.rest() == "a b"


@pytest.mark.parametrize(
    ("tokens", "key"),
    [(["--nope"], "error.unknown_option"), (["--tz"], "error.option_needs_value"),
     (["--tz", "--goals", "x"], "error.option_needs_value")],
)
def test_option_mistakes(tokens: list[str], key: str) -> None:
    with pytest.raises(UserError) as err:
        parse_args(tokens, OPTS, "profile [--tz ZONE]")
    assert err.value.key == key and err.value.params["usage"] == "profile [--tz ZONE]"


def test_subcommands_of_one_and_two_words() -> None:
    sub, used = find(["Program", "create", "Spring"])
    assert sub is not None and sub.name == "program create" and used == 2
    assert find(["pairs", "--at-risk"])[0].name == "pairs"  # type: ignore[union-attr]
    assert find(["program"]) == (None, 0)


def test_mentions_and_channels_as_platforms_send_them() -> None:
    assert parse_mention("<@U123|alice>") == Mention("U123", "alice")
    assert parse_mention("<@!4242>") == Mention("4242", "")
    assert parse_mention("@bob") == Mention(None, "bob")
    assert parse_mention("bob") is None
    assert parse_channel("<#C9|leads>") == "C9" and parse_channel("#leads") == "#leads"
    assert parse_channel("leads") is None and parse_channel("#" + "x" * 200) is None


@pytest.mark.parametrize(("text", "expected"), [("3", 3), ("#12", 12), ("²", None), ("1e3", None),
                                                 ("-1", None), ("9999999999", None), ("", None)])
def test_ids(text: str, expected: int | None) -> None:
    assert as_id(text) == expected


def test_bounded_numbers() -> None:
    assert as_int_in("5", 1, 5) == 5 and as_int_in("6", 1, 5) is None and as_int_in("#3", 1, 5) is None


def test_an_option_value_runs_to_the_next_option_like_words_do() -> None:
    opts = (Arg("program", Kind.PROGRAM), Arg("goals", Kind.TEXT), Arg("pair", Kind.PAIR),
            Arg("day", Kind.CHOICE), Arg("all", Kind.FLAG))
    args = parse_args(["--program", "Monthly", "Alumni", "--goals", "learn", "SQL", "--all"], opts, "u")
    assert args.options == {"program": "Monthly Alumni", "goals": "learn SQL"} and args.flags == {"all"}
    assert args.words == []
    # `=` ends the value at its own word; ids, numbers and days take one word, so words stay words.
    args = parse_args(["--program=Spring", "a", "--pair", "2", "he", "never", "--day", "wed", "b"], opts, "u")
    assert args.options == {"program": "Spring", "pair": "2", "day": "wed"}
    assert args.words == ["a", "he", "never", "b"]
