"""Pages kept with a slot for the signed state: the same page as drawn afresh, bounded."""

from __future__ import annotations

import gzip
import re
import zlib
from html import unescape

import pytest
from conftest import SECRET_KEYS
from starlette.applications import Starlette
from starlette.testclient import TestClient

from widget_server.frame.pagecache import STATE_SLOT, Body, PageCache
from widget_server.frame.world import Widget
from widget_server.signing import Signer

DEMO_ORIGIN = "http://127.0.0.1:8001"
STATE = re.compile(r'name="state" value="([^"]*)"')


def test_a_page_is_drawn_once_and_each_request_gets_its_own_state() -> None:
    cache = PageCache()
    drawn: list[str] = []

    def draw(state: str) -> str:
        drawn.append(state)
        return f'<form><input name="state" value="{state}"></form><a data-s="{state}">é'

    first = cache.page(("step", "who"), "AAA.bbb", draw)
    second = cache.page(("step", "who"), "CCC.ddd", draw)
    assert drawn == [STATE_SLOT]
    expected = '<form><input name="state" value="AAA.bbb"></form><a data-s="AAA.bbb">é'
    assert first == Body(expected.encode(), gzipped=False)
    assert second.content == expected.replace("AAA.bbb", "CCC.ddd").encode()
    assert (cache.hits, cache.misses) == (1, 1)


@pytest.mark.parametrize("slots", [0, 1, 3])
def test_a_gzipped_page_is_the_plain_page_once_decompressed(slots: int) -> None:
    cache = PageCache()
    text = "".join(f"<p>question {n} " * 40 + STATE_SLOT for n in range(slots)) + "<p>fin é"
    state = "eyJwIjoiZGVtbyJ9.Zx_-9A.abc" * 3
    plain = cache.page(("k", slots), state, lambda slot: text.replace(STATE_SLOT, slot))
    packed = cache.page(("k", slots), state, lambda slot: "", gzip=True)
    assert packed.gzipped and not plain.gzipped
    assert (
        gzip.decompress(packed.content) == plain.content == text.replace(STATE_SLOT, state).encode()
    )
    assert zlib.decompress(packed.content, 31) == plain.content  # one member, checked CRC
    if slots:
        assert len(packed.content) < len(plain.content)


def test_the_state_is_stored_in_the_gzipped_page_not_compressed() -> None:
    cache = PageCache()
    draw = lambda slot: f"<p>{slot}</p>" * 2  # noqa: E731
    one = cache.page(("k",), "A" * 40, draw, gzip=True).content
    other = cache.page(("k",), "BcD9-_." * 5 + "xyzab", draw, gzip=True).content
    assert b"A" * 40 in one  # readable as it is: no match against page text
    assert len(one) == len(other)  # the size says nothing about the state


def test_a_state_that_is_not_base64_is_drawn_escaped_never_kept() -> None:
    cache = PageCache()
    body = cache.page(("k",), '"><script>', lambda s: f"<p>{s.replace('<', '&lt;')}</p>", gzip=True)
    assert body == Body(b'<p>">&lt;script></p>', gzipped=False)  # drawn by the template
    assert len(cache) == 0


def test_the_cache_drops_the_least_recently_used_pages_past_its_bound() -> None:
    cache = PageCache()
    cache.page(("probe",), "s", lambda s: "x" * 100 + s)
    cache.max_bytes = cache.size * 2 + 10  # room for two such pages
    for key in ("a", "b", "a", "c"):  # "a" used again, so "b" is the oldest
        cache.page((key,), "s", lambda s: "x" * 100 + s)
    assert cache.size <= cache.max_bytes
    assert len(cache) == 2
    drawn: list[str] = []
    cache.page(("a",), "s", lambda s: drawn.append(s) or "")
    cache.page(("b",), "s", lambda s: drawn.append(s) or "")
    assert drawn == [STATE_SLOT]  # "a" was still there, "b" had been dropped


def test_a_page_larger_than_the_bound_is_served_but_not_kept() -> None:
    cache = PageCache(max_bytes=10)
    assert cache.page(("big",), "s", lambda s: "y" * 50 + s).content == b"y" * 50 + b"s"
    assert len(cache) == 0 and cache.size == 0


def pages_of_a_diagnosis(client: TestClient, token: str, **query: str) -> list[str]:
    """The pages of a short diagnosis, with each signed state replaced by a mark."""
    suffix = "&".join(f"{k}={v}" for k, v in query.items())
    first = client.get(f"/w/{token}?{suffix}")
    pages = [first.text]
    for answers in (["me"], ["card", "password"]):
        state = unescape(STATE.findall(pages[-1])[-1])
        sent = client.post(
            f"/w/{token}/step?{suffix}", data={"state": state, "do": "next", "answer": answers}
        )
        assert sent.status_code == 200
        pages.append(sent.text)
    return [STATE.sub('name="state" value="(state)"', page) for page in pages]


@pytest.mark.parametrize("query", [{"lang": "fr", "origin": DEMO_ORIGIN}, {"lang": "ar"}])
def test_a_page_from_the_cache_is_the_page_drawn_afresh(
    app: Starlette, client: TestClient, query: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = Signer(SECRET_KEYS, 7200).embed_token("demo")
    widget: Widget = app.state.widget
    pages = widget.world.pages
    first = pages_of_a_diagnosis(client, token, **query)
    hits = pages.hits
    second = pages_of_a_diagnosis(client, token, **query)  # another victim, same answers
    assert pages.hits == hits + 3
    # No state is trusted into a slot now: each page is drawn by its template
    # with the real state in it, the way it was before there was a cache.
    monkeypatch.setattr("widget_server.frame.pagecache._STATE_CHARACTERS", frozenset())
    assert pages_of_a_diagnosis(client, token, **query) == first == second
    assert 'data-outcome="phishing"' in first[-1]
    assert ('data-parent-origin="' in first[0]) is ("origin" in query)


def test_each_host_origin_and_language_gets_its_own_page(
    app: Starlette, client: TestClient
) -> None:
    token = Signer(SECRET_KEYS, 7200).embed_token("demo")
    framed = client.get(f"/w/{token}?lang=en&origin={DEMO_ORIGIN}").text
    alone = client.get(f"/w/{token}?lang=en").text
    dutch = client.get(f"/w/{token}?lang=nl&origin={DEMO_ORIGIN}").text
    assert f'data-parent-origin="{DEMO_ORIGIN}"' in framed
    assert "data-parent-origin" not in alone
    assert '<html lang="nl"' in dutch and '<html lang="en"' in framed


def test_a_new_world_starts_with_an_empty_cache(app: Starlette, client: TestClient) -> None:
    widget: Widget = app.state.widget
    client.get(f"/w/{Signer(SECRET_KEYS, 7200).embed_token('demo')}?lang=en")
    assert len(widget.world.pages) == 1
    world = widget.world
    widget.install(world.catalog, world.registry, world.alerts)
    assert widget.world is not world and len(widget.world.pages) == 0


def test_states_of_other_lengths_get_their_own_layout_of_the_same_page() -> None:
    cache = PageCache()
    text = f"<main>{'<p class=q>texte ' * 30}<input value='{STATE_SLOT}'>{'<p class=q>texte ' * 30}"
    text += f"<input value='{STATE_SLOT}'></main>"
    for state in ("short.a.b", "a-much-longer-state.with.more_characters-9", "short.c.d"):
        packed = cache.page(("k",), state, lambda slot: text.replace(STATE_SLOT, slot), gzip=True)
        assert gzip.decompress(packed.content) == text.replace(STATE_SLOT, state).encode()
    assert len(cache) == 1 and cache.misses == 1
