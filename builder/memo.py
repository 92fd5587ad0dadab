"""Memos of pure functions called again and again with the same arguments (a term's key,
a story's path, the names in a run of words).

A long-lived process (the preview server) keeps them from build to build. A one-shot
build lets them go once its site is assembled (:func:`forget`), before its render workers
fork: held, they were 10 MB of the build's process at 10,000 stories (the names in runs
alone 8 MB, tracemalloc), and a forked worker's resident memory counts every page of its
parent's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

_Function = TypeVar("_Function", bound=Callable)

_MEMOS: list[functools._lru_cache_wrapper] = []
"""Every memo made by :func:`memo`, as modules are imported."""


def memo(maxsize: int) -> Callable[[_Function], _Function]:
    """``functools.lru_cache(maxsize)``, forgotten by :func:`forget`."""

    def decorate(function: _Function) -> _Function:
        remembered = functools.lru_cache(maxsize=maxsize)(function)
        _MEMOS.append(remembered)
        return remembered  # type: ignore[return-value]

    return decorate


def forget() -> None:
    """Empty every memo."""
    for remembered in _MEMOS:
        remembered.cache_clear()
