"""Splits `/mentor` text into words, options and flags, and checks them against a subcommand's spec."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.errors import UserError


@dataclass
class Args:
    words: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    def rest(self, start: int = 0) -> str:
        return " ".join(self.words[start:]).strip()


# One piece of a command line, as POSIX shell words (shlex.split) read them: blanks between words, "..."
# (where a backslash escapes only " and itself), '...' (no escapes), a backslash escaping the next character,
# and plain text. Possessive quantifiers: an unclosed quote fails at once instead of backtracking.
_PIECE = re.compile(r"""
    (?P<blank>[ \t\r\n]++)
  | "(?P<double>(?:[^"\\]++|\\.)*+)"
  | '(?P<single>[^']*+)'
  | \\(?P<escaped>.)
  | (?P<plain>[^ \t\r\n"'\\]++)
""", re.VERBOSE | re.DOTALL)
_DOUBLE_ESCAPE = re.compile(r'\\(["\\])')
SMART_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


def tokenize(text: str) -> list[str]:
    """Words as a shell would split them, in time linear in the text (shlex.split is quadratic in a long word).
    Smart quotes from phones and chat clients count as quotes; an unclosed quote is a UserError."""
    text = text.translate(SMART_QUOTES)
    tokens: list[str] = []
    word: list[str] | None = None  # the word being read; None between words ("" is a word, as in shlex)
    pos = 0
    while pos < len(text):
        piece = _PIECE.match(text, pos)
        if piece is None:  # an unclosed quote, or a backslash at the very end
            raise UserError("error.unbalanced_quotes")
        pos = piece.end()
        kind = piece.lastgroup
        if kind == "blank":
            if word is not None:
                tokens.append("".join(word))
                word = None
            continue
        part = piece[kind] or ""
        word = word if word is not None else []
        word.append(_DOUBLE_ESCAPE.sub(r"\1", part) if kind == "double" else part)
    if word is not None:
        tokens.append("".join(word))
    return tokens


# Options whose values never hold a space (an id, a number, a day, a time, a cadence) take one word,
# so `--pair 2 he never shows up` still leaves the report's words as words.
ONE_WORD = frozenset({"pair", "capacity", "threshold", "day", "time", "cadence"})


def parse_args(tokens: list[str], *, options: frozenset[str], flags: frozenset[str], usage: str) -> Args:
    """Words stay in order; `--flag` sets a flag; `--name=value` fills an option with one word, and
    `--name value` with every word up to the next `--option` (so `--program Monthly Alumni` needs no quotes)."""
    args = Args()
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("--") and len(token) > 2:
            name, eq, value = token[2:].partition("=")
            name = name.lower()
            if name in flags and not eq:
                args.flags.add(name)
            elif name in options:
                if not eq:
                    limit = i + 2 if name in ONE_WORD else len(tokens)
                    end = i + 1
                    while end < min(limit, len(tokens)) and not tokens[end].startswith("--"):
                        end += 1
                    if end == i + 1:
                        raise UserError("error.option_needs_value", option=name, usage=usage)
                    value = " ".join(tokens[i + 1:end])
                    i = end - 1
                args.options[name] = value
            else:
                raise UserError("error.unknown_option", option=token, usage=usage)
        else:
            args.words.append(token)
        i += 1
    return args


def as_id(text: str) -> int | None:
    """A row id as typed (`3`, `#3`) or carried by a button; None for anything else, however odd."""
    text = text.removeprefix("#")
    # isdecimal, not isdigit: "²" is a digit int() refuses; nine digits fit any integer column.
    return int(text) if text.isdecimal() and len(text) < 10 else None


def as_int_in(text: str, low: int, high: int) -> int | None:
    """A whole number from low to high, or None."""
    value = as_id(text) if not text.startswith("#") else None
    return value if value is not None and low <= value <= high else None
