"""Is a signing key good enough for production? Refuses what people type instead of a random key:
placeholders, short keys, one character repeated (``aaaa…``, ``0000…``), a word or phrase repeated
(``secretsecret…``), runs (``abcdef…``, ``123456…``) and anything else with little estimated
entropy. Every output of ``secrets.token_urlsafe(32+)`` or ``secrets.token_hex(16+)`` passes."""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections import Counter

MIN_LENGTH = 32
MIN_DISTINCT = 10
MIN_BITS = (
    96.0  # Shannon estimate over the characters: token_hex(16) ≈ 118, token_urlsafe(48) ≈ 340
)
PLACEHOLDERS = frozenset(
    {"", "change-me", "changeme", "secret", "dev", "placeholder", "xxx", "password", "example"}
)


def _estimated_bits(key: str) -> float:
    counts = Counter(key)
    return -sum(n * math.log2(n / len(key)) for n in counts.values())


def _period(key: str) -> int:
    """The shortest p with key made of repetitions of key[:p] (len(key) when there is none)."""
    for p in range(1, len(key) // 2 + 1):
        if all(key[i] == key[i % p] for i in range(len(key))):
            return p
    return len(key)


def weakness(key: str) -> str | None:
    """Why ``key`` is not fit to sign production tokens, or None when it is."""
    lowered = key.strip().lower()
    if lowered in PLACEHOLDERS or lowered.startswith("change"):
        return "it is a placeholder"
    if len(key) < MIN_LENGTH:
        return f"it is shorter than {MIN_LENGTH} characters"
    if len(set(key)) < MIN_DISTINCT:
        return "it uses too few different characters"
    if _period(lowered) < len(key):
        return "it is one piece repeated"
    words = re.findall(r"[a-z]{3,}|\d{3,}", lowered)
    if len(words) >= 4 and len(set(words)) <= 0.6 * len(words):
        return "it repeats the same words"
    steps = [ord(b) - ord(a) for a, b in itertools.pairwise(key)]
    if sum(1 for s in steps if abs(s) <= 1) > len(steps) / 2:
        return "it is mostly runs of neighbouring characters (abcd, 1234)"
    if len(zlib.compress(lowered.encode(), 9)) < 0.6 * len(key) + 8:
        return "it is repetitive"
    if _estimated_bits(key) < MIN_BITS:
        return "it has too little entropy"
    return None
