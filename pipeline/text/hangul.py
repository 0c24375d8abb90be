"""Hangul character classes shared by the noun filters and the dictionary format."""

from __future__ import annotations


def is_hangul_syllable(ch: str) -> bool:
    """A precomposed Hangul syllable (가-힣), not a jamo."""
    return "\uac00" <= ch <= "\ud7a3"


def hangul_share(word: str) -> float:
    """Share of a word's characters that are Hangul syllables (0 for the empty word)."""
    return sum(map(is_hangul_syllable, word)) / len(word) if word else 0.0
