"""Every sentence mentorbot says: named templates with named placeholders, one TOML file a language."""

from __future__ import annotations

import logging
import string
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

DEFAULT_LANGUAGE = "en"
_DIR = Path(__file__).parent
log = logging.getLogger(__name__)


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _load(path: Path) -> dict[str, Any]:
    with open(path, "rb") as fh:
        return _flatten(tomllib.load(fh))


@cache
def catalog(lang: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """All templates of a language, keyed by dotted name; other languages fall back to English.

    The core's text is prompts/<lang>.toml; each adapter's is prompts/<adapter>/<lang>.toml."""
    own = _load(_DIR / f"{lang}.toml")
    for part in sorted(_DIR.glob(f"*/{lang}.toml")):
        extra = _load(part)
        if clash := own.keys() & extra.keys():
            raise ValueError(f"{part} repeats prompt keys: {', '.join(sorted(clash))}")
        own.update(extra)
    if lang == DEFAULT_LANGUAGE:
        return own
    return {**catalog(DEFAULT_LANGUAGE), **own}


def languages() -> list[str]:
    return sorted(p.stem for p in _DIR.glob("*.toml"))


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        log.error("prompt placeholder {%s} was not supplied", key)
        return "…"


def say(key: str, lang: str = DEFAULT_LANGUAGE, /, **params: Any) -> str:
    """Render template `key`. A missing placeholder is logged, never raised at a person."""
    template = catalog(lang).get(key)
    if not isinstance(template, str):
        log.error("unknown prompt %s", key)
        return key
    return template.format_map(_Lenient(params))


def choices(key: str, lang: str = DEFAULT_LANGUAGE) -> list[str]:
    """A list-valued entry, such as the conversation starters."""
    value = catalog(lang).get(key)
    return list(value) if isinstance(value, list) else []
