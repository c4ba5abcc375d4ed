"""Opening a frame: the query read once per value must read it as Starlette does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from widget_server.frame import request as frame
from widget_server.frame.request import MAX_CACHED_QUERY, frame_query

#: Pieces a query is made of, awkward ones included.
PIECES = st.sampled_from(
    ["origin", "lang", "=", "&", ";", "%", "%3D", "%26", "+", "%2B", "en", "ar", "http://a.example",
     "", "é", "%C3%A9", "%FF", "origin=", "lang="]
)  # fmt: skip


@given(st.lists(PIECES, max_size=12).map("".join))
def test_the_query_is_read_as_starlette_reads_it(query: str) -> None:
    raw = query.encode("utf-8")
    params = QueryParams(raw)
    frame._cached_query.cache_clear()
    assert frame_query(raw) == (params.get("origin"), params.get("lang"))


def test_a_long_query_is_read_but_never_kept() -> None:
    frame._cached_query.cache_clear()
    long = b"origin=https://a.example&lang=" + b"x" * MAX_CACHED_QUERY
    assert frame_query(long) == ("https://a.example", "x" * MAX_CACHED_QUERY)
    assert frame_query(b"lang=en") == (None, "en")
    assert frame._cached_query.cache_info().currsize == 1


def test_the_last_value_wins_and_blanks_are_values() -> None:
    assert frame_query(b"lang=en&lang=ar&origin=") == ("", "ar")
    assert frame_query(b"") == (None, None)
