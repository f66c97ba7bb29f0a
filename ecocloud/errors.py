"""Errors a web page shows in its language, the CLI in English."""

from __future__ import annotations

from typing import Any

__all__ = ["InTwoLanguages"]


class InTwoLanguages(Exception):
    """An error a web page shows in its language: ``str(exc)`` in English, ``zh`` in Chinese. It
    pickles with both (a query's errors come back from the child process that ran it)."""

    def __init__(self, message: str, zh: str = "") -> None:
        super().__init__(message)
        self.zh = zh or message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.zh))
