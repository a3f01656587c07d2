"""The per-process result cache: bounded, least recently used out first."""

from __future__ import annotations

import pytest

from common.recommender.cache import ResultCache


def test_the_least_recently_used_entry_makes_room() -> None:
    cache: ResultCache[str] = ResultCache(max_entries=2)
    cache.put("a", "first")
    cache.put("b", "second")
    assert cache.get("a") == "first"  # "a" is now the most recently used
    cache.put("c", "third")
    assert cache.get("b") is None and cache.get("a") == "first" and cache.get("c") == "third"
    assert len(cache) == 2 and (cache.hits, cache.misses) == (3, 1)


def test_a_zero_sized_cache_keeps_nothing_and_clear_empties() -> None:
    off: ResultCache[int] = ResultCache(max_entries=0)
    off.put("a", 1)
    assert off.get("a") is None
    cache: ResultCache[int] = ResultCache(max_entries=5)
    cache.put(("user", 1), 1)
    cache.clear()
    assert cache.get(("user", 1)) is None
    with pytest.raises(ValueError):
        ResultCache(max_entries=-1)
