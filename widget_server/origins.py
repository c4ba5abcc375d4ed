"""Partner origins, parsed rather than pasted.

A partner's origins end up inside the frame's ``Content-Security-Policy:
frame-ancestors`` header and are compared with the ``Origin`` a browser
sends, so an origin is read here into its parts and written back from them:
``scheme://host[:port]`` and nothing else. Anything that is not exactly that
(``https://x.example;script-src``, a quote, a path, a user name, a wildcard)
is refused with a line that says what to write, instead of reaching a header
where a ``;`` or a space would start a new directive or source.
"""

from __future__ import annotations

import ipaddress
import re

from widget_server.problems import WidgetServerError
from widget_server.settings import LOOPBACK_HOSTS

#: The shape of an origin: a scheme, ``://``, a host (a bracketed IPv6 address
#: or anything up to the port), an optional port and at most a final ``/``.
_ORIGIN_RE = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://"
    r"(?P<host>\[[^\]]*\]|[^:/?#\[\]]*)(?::(?P<port>[0-9]*))?/?"
)

#: One label of a host name as browsers send it: ASCII letters, digits and '-'.
_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?")

_SHAPE_HINT = "write scheme://host[:port], like https://www.example.fr, without a path"
_DEFAULT_PORTS = {"https": 443, "http": 80}


class OriginError(WidgetServerError, ValueError):
    """``text`` is no origin a browser sends; ``hint`` says what to write instead."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def parse_origin(text: str, *, production: bool = False) -> str:
    """The exact origin ``text`` names, as browsers write it, or :class:`OriginError`.

    The exact form has a lower-case scheme and host, no default port and no
    final ``/``; a caller compares it with ``text`` to ask for that form (a
    browser compares origins as text). In ``production``, plain ``http://`` is
    refused except on this machine (127.0.0.1, localhost, [::1]): a page served
    over http can be rewritten on the way, and so can the frame it embeds.
    """
    shown = text if len(text) <= 60 else text[:57] + "..."
    if any(c.isspace() for c in text):
        raise OriginError(f"{shown!r} is not an origin: it contains a space", _SHAPE_HINT)
    if "*" in text:
        raise OriginError(
            f"{shown!r} is not an origin: wildcards are not allowed",
            "list each origin in full, like https://www.example.fr and https://example.fr",
        )
    match = _ORIGIN_RE.fullmatch(text)
    scheme = match.group("scheme").lower() if match else ""
    if match is None or scheme not in _DEFAULT_PORTS:
        raise OriginError(f"{shown!r} is not written the expected way for an origin", _SHAPE_HINT)
    port = _port(match.group("port"), shown)
    suffix = f":{port}" if port not in (None, _DEFAULT_PORTS[scheme]) else ""
    written = match.group("host")
    if not written.isascii():
        ascii_host = _punycode(written)
        raise OriginError(
            f"the host name of {shown!r} is not ASCII",
            f"write {scheme}://{ascii_host}{suffix}: browsers send a name with accents "
            "in its punycode form"
            if ascii_host
            else "write the host name in its punycode (xn--...) form",
        )
    host = _host(written, shown)
    exact = f"{scheme}://{host}{suffix}"
    if production and scheme == "http" and host.strip("[]") not in LOOPBACK_HOSTS:
        raise OriginError(
            f"{shown!r} is served over plain http",
            f"write {exact.replace('http://', 'https://', 1)}: in production the widget may be "
            "framed by https pages only (http only on 127.0.0.1, localhost or [::1])",
        )
    return exact


def _host(written: str, shown: str) -> str:
    """The host as browsers write it: lower case, punycode, IPv6 in its short form."""
    if written.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(written[1:-1]).compressed}]"
        except ValueError:
            raise OriginError(f"{shown!r} has no valid IPv6 address", _SHAPE_HINT) from None
    if "@" in written:
        raise OriginError(f"{shown!r} is not an origin: it holds a user name", _SHAPE_HINT)
    host = written.lower()
    labels = host.split(".")
    if not host or len(host) > 253 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        raise OriginError(
            f"{shown!r} is not an origin: a host name has only letters, digits, '-' and '.'",
            _SHAPE_HINT,
        )
    if labels[-1].isdigit():  # browsers read a name ending in digits as an IPv4 address
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise OriginError(f"{shown!r} has no valid IPv4 address", _SHAPE_HINT) from None
    return host


def _punycode(written: str) -> str:
    """The ASCII form browsers use for a host name with accents, or '' if it has none."""
    try:
        return _host(written.encode("idna").decode("ascii"), written)
    except (UnicodeError, OriginError):
        return ""


def _port(written: str | None, shown: str) -> int | None:
    if written is None or written == "":
        if written == "":
            raise OriginError(f"{shown!r} has a ':' but no port after it", _SHAPE_HINT)
        return None
    port = int(written[:6])
    if not 0 < port <= 65535 or len(written) > 5:
        raise OriginError(f"{shown!r} has no valid port: a port is 1 to 65535", _SHAPE_HINT)
    return port
