"""Codes the programs write that the registry must label: each is checked where the program defines
it, at import, so a code without its labels stops the program from loading rather than showing a raw
code on the pages. Standard library only: the HJ 212 receiver imports it and never loads Arrow."""

from __future__ import annotations

__all__ = ["labelled"]


def labelled(code: str, zh: str | None, en: str | None, declared_in: str) -> str:
    """``code``, whose Chinese and English labels are ``zh`` and ``en`` as ``declared_in`` (the
    registry's list) gives them; ValueError when either is missing or the English one is the Chinese."""
    if not (zh and en and en != zh):
        raise ValueError(
            f"quarantine reason {code!r} has no Chinese and English label in {declared_in}: declare it there"
        )
    return code
