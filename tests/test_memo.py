"""Memos: a one-shot build forgets them before its render workers fork."""

from __future__ import annotations

from builder import memo
from builder.assemble import term_key
from builder.urls import output_path


def test_forgetting_empties_every_memo_and_changes_no_answer():
    answers = (term_key("  Café  Society "), output_path("/tags/cafe/"))
    assert term_key.cache_info().currsize and output_path.cache_info().currsize
    memo.forget()
    assert term_key.cache_info().currsize == output_path.cache_info().currsize == 0
    assert (term_key("  Café  Society "), output_path("/tags/cafe/")) == answers
