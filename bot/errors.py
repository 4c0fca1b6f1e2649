"""The one exception flows raise for a person's mistake: it becomes a short reply, never a crash."""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """Bad input. Carries a prompt key and its placeholders; the transaction is rolled back."""

    def __init__(self, key: str, /, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params
