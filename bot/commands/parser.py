"""Splits `/mentor` text into words, options and flags, and checks them against a subcommand's declared options."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.args import Args
from bot.errors import UserError
from bot.feature import ONE_WORD, Arg, Kind


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


def parse_args(tokens: list[str], options: Sequence[Arg], usage: str) -> Args:
    """Words stay in order; `--flag` sets a flag; `--name=value` fills an option with one word, and
    `--name value` with every word up to the next `--option` (so `--program Monthly Alumni` needs no quotes);
    an option whose kind never holds a space (an id, a number, a day) takes one word."""
    declared = {o.name: o for o in options}
    args = Args()
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("--") and len(token) > 2:
            name, eq, value = token[2:].partition("=")
            name = name.lower()
            option = declared.get(name)
            if option is None or (option.kind is Kind.FLAG and eq):
                raise UserError("error.unknown_option", option=token, usage=usage)
            if option.kind is Kind.FLAG:
                args.flags.add(name)
            else:
                if not eq:
                    limit = i + 2 if option.kind in ONE_WORD else len(tokens)
                    end = i + 1
                    while end < min(limit, len(tokens)) and not tokens[end].startswith("--"):
                        end += 1
                    if end == i + 1:
                        raise UserError("error.option_needs_value", option=name, usage=usage)
                    value = " ".join(tokens[i + 1:end])
                    i = end - 1
                args.options[name] = value
        else:
            args.words.append(token)
        i += 1
    return args
