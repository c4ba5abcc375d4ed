"""Question and outcome pages rendered once, then served with the signed state dropped in.

Rendering was most of a step's work (Jinja2 took half of a question step and
more of an outcome page), yet every victim who stands at the same place sees
the same page: same partner, embed token, host origin, language and position.
Only the signed state differs from one victim to the next. So a page is
rendered once with a slot where the state goes, kept as the text around the
slots, and each later request joins its own state into it: a string join
instead of a template, and a gzipped page without compressing it again.

The cache belongs to one :class:`~widget_server.frame.world.World`: a reload of the
trees, partners or alerts starts an empty one, so a page never outlives the
texts it was rendered from. It is bounded in bytes and drops the pages used
least recently, so a flood of rare keys (every host origin a partner lists,
every language) costs memory, never more than the bound.
"""

from __future__ import annotations

import secrets
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import NamedTuple

from widget_server.frame.compression import LEVEL
from widget_server.signing import BASE64URL

#: Where the signed state goes in a page while it is rendered for the cache.
#: Random per process, so no tree text, partner name or alert can contain it.
STATE_SLOT = f"cw-state-{secrets.token_hex(16)}"

#: The most page bytes one world keeps, plain and deflated. A question page is
#: about 3,700 bytes plain and 1,600 deflated: a few thousand pages fit.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024

#: What a signed state may hold to be dropped into a page unescaped: base64url and dots.
_STATE_CHARACTERS = frozenset(BASE64URL + ".")

#: A gzip member's header: deflate, no name, no time, unknown system.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"

#: How far back deflate refers: the most of the page before a part worth priming it with.
_WINDOW = 32 * 1024

#: Lengths of state a page keeps deflated parts for; others are deflated for their response only.
MAX_LAYOUTS = 8

#: The empty last block that ends a deflate stream.
_LAST_BLOCK = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS).flush()


class Body(NamedTuple):
    """A page's bytes, and whether they are gzipped."""

    content: bytes
    gzipped: bool


@dataclass(slots=True)
class _Page:
    """A page cut at its state slots: the text between them, plain and deflated.

    The deflated parts are raw deflate streams, each flushed to a byte
    boundary and never finished, so they can be laid end to end with stored
    (uncompressed) blocks holding the state into one valid stream: a gzipped
    page costs a join and a CRC instead of compressing 4 to 8 KB again. The
    state itself is never compressed, so nothing in a response's size depends
    on it. Each part is compressed with all the page before it as its
    dictionary (the state's place filled with zero bytes, which HTML never
    matches), so it refers back to the text before it as a whole-page
    compression would: that needs the state's length, hence one set of
    deflated parts per length of state seen (a few per page).
    """

    parts: tuple[bytes, ...]
    #: Deflated parts by the length of the state they were laid out for.
    deflated: dict[int, tuple[bytes, ...]] = field(default_factory=dict)

    @classmethod
    def cut(cls, html: str) -> _Page:
        return cls(tuple(part.encode() for part in html.split(STATE_SLOT)))

    @property
    def size(self) -> int:
        deflated = sum(len(part) for parts in self.deflated.values() for part in parts)
        return sum(map(len, self.parts)) + deflated

    def plain(self, state: bytes) -> bytes:
        return state.join(self.parts)


def _deflate(parts: tuple[bytes, ...], state_length: int) -> tuple[bytes, ...]:
    """The parts as raw deflate streams, each primed with the page before it."""
    filler = b"\0" * state_length
    deflated = []
    before = b""
    for part in parts:
        compressor = (
            zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, zdict=before[-_WINDOW:])
            if before
            else zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
        )
        deflated.append(compressor.compress(part) + compressor.flush(zlib.Z_SYNC_FLUSH))
        before += part + filler
    return tuple(deflated)


def _gzip(plain: bytes, state: bytes, deflated: tuple[bytes, ...]) -> bytes:
    stored = b"\x00" + struct.pack("<HH", len(state), len(state) ^ 0xFFFF) + state
    trailer = struct.pack("<II", zlib.crc32(plain), len(plain) & 0xFFFFFFFF)
    return b"".join((_GZIP_HEADER, stored.join(deflated), _LAST_BLOCK, trailer))


class PageCache:
    """Rendered pages cut at their state slots, least recently used dropped first."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[Hashable, _Page] = OrderedDict()
        self._bytes = 0
        # Handlers run on the event loop, but a lock keeps the cache whole if
        # one ever runs in the thread pool.
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def page(
        self, key: Hashable, state: str, render: Callable[[str], str], *, gzip: bool = False
    ) -> Body:
        """The page for ``key`` with ``state`` in it; ``render(slot)`` draws it on a miss.

        ``gzip`` asks for the page gzipped (the browser accepts it).
        """
        if len(state) > 0xFFFF or not _STATE_CHARACTERS.issuperset(state):
            # Never the case for a state the signer made; render it the slow,
            # escaped way rather than trust it.
            return Body(render(state).encode(), gzipped=False)
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
                self.hits += 1
        if page is None:
            page = _Page.cut(render(STATE_SLOT))
            self._store(key, page)
        raw = state.encode("ascii")
        plain = page.plain(raw)
        if not gzip:
            return Body(plain, gzipped=False)
        deflated = page.deflated.get(len(raw))
        if deflated is None:
            deflated = _deflate(page.parts, len(raw))
            self._add_deflated(key, page, len(raw), deflated)
        return Body(_gzip(plain, raw, deflated), gzipped=True)

    def _store(self, key: Hashable, page: _Page) -> None:
        size = page.size
        with self._lock:
            self.misses += 1
            if size > self.max_bytes or key in self._pages:
                return
            self._pages[key] = page
            self._bytes += size
            self._drop_oldest()

    def _add_deflated(
        self, key: Hashable, page: _Page, length: int, deflated: tuple[bytes, ...]
    ) -> None:
        with self._lock:
            if self._pages.get(key) is not page or len(page.deflated) >= MAX_LAYOUTS:
                return  # not kept (or dropped since): used for this response only
            page.deflated[length] = deflated
            self._bytes += sum(map(len, deflated))
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        while self._bytes > self.max_bytes:
            _, dropped = self._pages.popitem(last=False)
            self._bytes -= dropped.size

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def size(self) -> int:
        """Bytes of pages kept now, plain and deflated."""
        return self._bytes
