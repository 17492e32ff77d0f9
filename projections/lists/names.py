"""How names are searched: a name's search key and its n-grams.

A search key is the name in Unicode NFKC, case-folded, with runs of white space made one space:
full-width Ｗａｎｇ and ｗａｎｇ find Wang, and 王秀英 is itself. A name is indexed by every
character and every pair of adjacent characters of its key (code points: Chinese characters,
Latin letters and emoji alike). A query of one character looks its 1-gram up; a longer query
looks up its 2-grams, all of which a matching name holds, and the candidates are then checked
for the whole query as a substring of their key. So `秀英` finds 王秀英 with one index look-up,
the same way on SQLite and PostgreSQL (no extension such as pg_trgm is needed, whose trigrams
cannot match a two-character Chinese query anyway).
"""

from __future__ import annotations

import unicodedata

MAX_QUERY = 200
# A query's 2-grams that are looked up in the index; the substring check covers the rest.
MAX_LOOKED_UP = 4


def search_key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def grams(key: str) -> set[str]:
    """Every character and every pair of adjacent characters of a search key."""
    return set(key) | {key[i : i + 2] for i in range(len(key) - 1)}


def query_grams(key: str) -> list[str]:
    """The grams a query's matches must all hold: its one character, or up to MAX_LOOKED_UP of
    its distinct 2-grams, in the order they appear."""
    if len(key) == 1:
        return [key]
    found: list[str] = []
    for i in range(len(key) - 1):
        pair = key[i : i + 2]
        if pair not in found:
            found.append(pair)
    return found[:MAX_LOOKED_UP]
