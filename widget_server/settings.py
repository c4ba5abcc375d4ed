"""Settings, read from ``WIDGET_*`` environment variables.

The app is built from a :class:`Settings` value (``create_app(settings)``), so
tests pass their own instead of patching globals. Every setting has a safe
local default, so ``widget-server demo`` works on a fresh machine; production
mode refuses the defaults that are only safe locally.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from widget_server.problems import WidgetServerError
from widget_server.ratelimit import Rate, RateError

#: Where the repository's own trees/ and embed/ are, for a checkout or an
#: editable install; a deployment points the settings elsewhere.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Signs embeds and states in development only; production refuses it.
DEVELOPMENT_KEY = "development-only-key-do-not-use-in-production"

#: Production secret keys must be at least this long.
MIN_KEY_LENGTH = 32

#: New reports per client address and per partner, by default in production.
CLIENT_REPORT_RATE = Rate(10, 3600)
PARTNER_REPORT_RATE = Rate(600, 3600)
NO_LIMIT = Rate(0, 1)

#: What ``WIDGET_LOG_FORMAT`` may be.
LOG_FORMATS = ("text", "json")

#: Hosts an intake may be reached at over plain http, even in production.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def sends_privately(url: str) -> bool:
    """Whether reports may be posted to ``url`` in production: https, or plain http
    to this machine only. The one rule for ``WIDGET_INTAKE_URL`` and the routes file."""
    parts = urlsplit(url)
    return parts.scheme == "https" or parts.hostname in LOOPBACK_HOSTS


class SettingsError(WidgetServerError, ValueError):
    """A setting is missing or wrong; the message says which and what to do."""


@dataclass(frozen=True)
class License:
    """The licence of the open data (``WIDGET_OPEN_DATA_LICENSE``), as a Data Package names it:
    an Open Definition id (``name``), and optionally a readable ``title`` and a URL (``path``)."""

    name: str
    title: str = ""
    path: str = ""


#: Licences known by their id alone, so ``WIDGET_OPEN_DATA_LICENSE=odbl-1.0`` is enough.
KNOWN_LICENSES: dict[str, License] = {
    license.name: license
    for license in (
        License(
            "etalab-2.0",
            "Licence Ouverte / Open Licence version 2.0",
            "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
        ),
        License(
            "odbl-1.0",
            "Open Data Commons Open Database License 1.0",
            "https://opendatacommons.org/licenses/odbl/1-0/",
        ),
        License(
            "cc-by-4.0",
            "Creative Commons Attribution 4.0",
            "https://creativecommons.org/licenses/by/4.0/",
        ),
        License("cc0-1.0", "CC0 1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
    )
}

#: The open data's licence unless ``WIDGET_OPEN_DATA_LICENSE`` names another: the French
#: state's open licence, which asks reusers only to name the source.
DEFAULT_LICENSE = KNOWN_LICENSES["etalab-2.0"]


@dataclass(frozen=True)
class Settings:
    """Every setting; the keys are left out of ``repr`` so no log or traceback shows them."""

    #: ``development`` or ``production``. Production refuses default secrets.
    mode: str = "development"
    #: Secret keys, newest first: the first signs, all verify, so keys rotate.
    secret_keys: tuple[str, ...] = field(default=(DEVELOPMENT_KEY,), repr=False)
    #: The URL partners' browsers reach this server at, without a trailing slash.
    public_url: str = "http://127.0.0.1:8000"
    #: Where the outbox database and other state live.
    data_dir: Path = field(default_factory=lambda: Path("data"))
    #: Empty: every store is a SQLite file in ``data_dir``. ``postgresql://...``:
    #: every shared store is in that database, for several instances.
    database_url: str = field(default="", repr=False)
    #: The folder of decision trees and shared vocabularies.
    trees_dir: Path = PROJECT_ROOT / "trees"
    #: The partner registry.
    partners_file: Path = PROJECT_ROOT / "embed" / "partners.yaml"
    #: Optional intake routes by country and partner; the default route is below.
    routes_file: Path | None = None
    #: Optional alerts shown on the first step.
    alerts_file: Path | None = None
    #: The default intake route: where reports are posted, and the signing key.
    intake_url: str = "http://127.0.0.1:8002/reports"
    intake_key: str = field(default=DEVELOPMENT_KEY, repr=False)
    #: How long a step's signed state stays valid, in seconds.
    state_max_age: int = 2 * 3600
    #: The operator key for the dashboard and outbox API; empty turns them off.
    operator_key: str = field(default="", repr=False)
    #: Seconds between checks for changed trees, partners and alerts files.
    reload_interval: float = 2.0
    #: The most one attempt to post a report to an intake may take, in seconds.
    #: A claim on a report lasts three times this, so after a crash another
    #: worker (or the restarted server) sends it again once that has passed.
    forward_deadline: float = 30.0
    #: Days a closed case (its timeline, later its messages) is kept, then deleted.
    case_retention: int = 90
    #: How long a victim who asked to talk to an officer now waits for one, in
    #: seconds, before the conversation falls back to ordinary follow-up.
    live_wait: float = 600.0
    #: New reports one client address may send: a burst of ``count``, refilled
    #: over the period (``5/hour``, ``20/3600``, or ``off``). A 429 page beyond.
    #: Unset: :data:`CLIENT_REPORT_RATE` in production, off in development (so
    #: local load tests and benchmarks from one address are not throttled).
    report_rate_client: Rate | None = None
    #: New reports one partner's frames may send, all clients together; unset:
    #: :data:`PARTNER_REPORT_RATE` in production, off in development.
    report_rate_partner: Rate | None = None
    #: ``text`` (the default) or ``json``: one JSON object per log line.
    log_format: str = "text"
    #: ``host:port`` of a listener of its own for ``/metrics`` (no key); empty: none.
    metrics_address: str = ""
    #: On SIGTERM, how long requests in flight and forward attempts may take to
    #: finish, in seconds, before they are cut (a forward attempt's claim handed back).
    graceful_timeout: float = 10.0
    #: How many processes serve on this box (``serve --workers`` sets it for them): above
    #: one without PostgreSQL, their rate limits are shared through a SQLite file.
    workers: int = 1
    #: The licence ``/open-data/`` publishes its files under.
    open_data_license: License = DEFAULT_LICENSE

    @property
    def production(self) -> bool:
        return self.mode == "production"

    @property
    def client_report_rate(self) -> Rate:
        if self.report_rate_client is not None:
            return self.report_rate_client
        return CLIENT_REPORT_RATE if self.production else NO_LIMIT

    @property
    def partner_report_rate(self) -> Rate:
        if self.report_rate_partner is not None:
            return self.report_rate_partner
        return PARTNER_REPORT_RATE if self.production else NO_LIMIT

    @property
    def database_path(self) -> Path:
        return self.data_dir / "widget.sqlite3"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``WIDGET_*`` variables; unknown ones are an error, not silence."""
        env = dict(os.environ if environ is None else environ)
        known = {f"WIDGET_{name.upper()}" for name in ENVIRONMENT}
        unknown = sorted(k for k in env if k.startswith("WIDGET_") and k not in known)
        if unknown:
            raise SettingsError(
                f"unknown setting {unknown[0]} (known settings: {', '.join(sorted(known))})"
            )
        values: dict[str, object] = {}
        for name, parse in ENVIRONMENT.items():
            variable = f"WIDGET_{name.upper()}"
            raw = env.get(variable)
            if raw is not None and raw.strip() != "":
                try:
                    values[_FIELD.get(name, name)] = parse(raw.strip())
                except SettingsError as exc:
                    # Keys never reach a parser that fails, so the value may be shown;
                    # a database URL may hold a password, so it is not.
                    shown = variable if name in _SECRET else f"{variable}={raw.strip()}"
                    raise SettingsError(f"{shown}: {exc}") from None
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse settings that would be unsafe or cannot work."""
        if self.mode not in ("development", "production"):
            raise SettingsError("WIDGET_MODE must be 'development' or 'production'")
        if not self.secret_keys:
            raise SettingsError("WIDGET_SECRET_KEYS is empty (give at least one key)")
        if self.production:
            for key in self.secret_keys:
                if key == DEVELOPMENT_KEY or len(key) < MIN_KEY_LENGTH:
                    raise SettingsError(
                        "WIDGET_SECRET_KEYS holds the development key or a key shorter than "
                        f"{MIN_KEY_LENGTH} characters; production needs long random keys "
                        '(python -c "import secrets; print(secrets.token_urlsafe(48))")'
                    )
            if self.intake_key == DEVELOPMENT_KEY or len(self.intake_key) < MIN_KEY_LENGTH:
                raise SettingsError(
                    "WIDGET_INTAKE_KEY is the development key or shorter than "
                    f"{MIN_KEY_LENGTH} characters; production needs the key agreed with the intake"
                )
            if self.operator_key and len(self.operator_key) < MIN_KEY_LENGTH:
                raise SettingsError(
                    f"WIDGET_OPERATOR_KEY is shorter than {MIN_KEY_LENGTH} characters; production "
                    "needs a long random key, or none to turn the dashboard off "
                    '(python -c "import secrets; print(secrets.token_urlsafe(48))")'
                )
            if not sends_privately(self.intake_url):
                raise SettingsError(
                    f"WIDGET_INTAKE_URL={self.intake_url}: production sends reports over https "
                    "only (use an https:// address; plain http is for 127.0.0.1 or localhost)"
                )
        if self.state_max_age < 60:
            raise SettingsError("WIDGET_STATE_MAX_AGE must be at least 60 seconds")
        if self.case_retention < 1:
            raise SettingsError("WIDGET_CASE_RETENTION must be at least 1 day")
        if not 10 <= self.live_wait <= 86_400:
            raise SettingsError("WIDGET_LIVE_WAIT must be between 10 and 86400 seconds")
        if not 0.1 <= self.forward_deadline <= 600:
            raise SettingsError("WIDGET_FORWARD_DEADLINE must be between 0.1 and 600 seconds")
        if self.log_format not in LOG_FORMATS:
            raise SettingsError("WIDGET_LOG_FORMAT must be 'text' or 'json'")
        if not 0 <= self.graceful_timeout <= 3600:
            raise SettingsError("WIDGET_GRACEFUL_TIMEOUT must be between 0 and 3600 seconds")
        if not self.reload_interval >= 0:  # also refuses nan
            raise SettingsError(
                "WIDGET_RELOAD_INTERVAL must be 0 (no reloading) or a positive number of seconds"
            )


def _address(raw: str) -> str:
    """``WIDGET_METRICS_ADDRESS``: ``host:port``, ``[v6]:port``, or empty for none."""
    host, _, port = raw.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(
            "expected host:port, such as 127.0.0.1:9108 (a private address: the metrics "
            "listener asks for no key)"
        )
    return raw


_LICENSE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _license(raw: str) -> License:
    """``WIDGET_OPEN_DATA_LICENSE``: ``NAME [URL] [TITLE...]``, space-separated.

    ``NAME`` alone is enough for a licence of :data:`KNOWN_LICENSES`; any other
    name may bring its URL and its title (the rest of the line), which replace
    the known ones.
    """
    name, _, rest = raw.partition(" ")
    if not _LICENSE_NAME.fullmatch(name):
        raise SettingsError(
            "expected a licence id first (letters, digits, '.', '_', '-'), such as etalab-2.0, "
            "then optionally its https URL and its title: odbl-1.0 "
            "https://opendatacommons.org/licenses/odbl/1-0/ Open Database License"
        )
    known = KNOWN_LICENSES.get(name, License(name))
    path, title = known.path, known.title
    first, _, after = rest.strip().partition(" ")
    if first.startswith(("http://", "https://")):
        _url(first)  # refuses what is not an http(s) URL; the URL is kept as written
        path, rest = first, after
    title = " ".join(rest.split()) or title
    return License(name, title, path)


def _keys(raw: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in raw.split(",") if k.strip())


#: A host name or an IP address, as ``urlsplit`` gives it (lower case, IPv6 unbracketed).
_HOST = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|[0-9a-f:.]+")


def _url(raw: str) -> str:
    try:
        parts = urlsplit(raw)
        host, _ = parts.hostname, parts.port  # a port that is not a number raises here
    except ValueError:
        host = None
    if not raw.startswith(("http://", "https://")) or not host:
        raise SettingsError("expected an http(s) URL")
    if not _HOST.fullmatch(host):
        raise SettingsError(f"{host!r} is not a host name or an IP address")
    return raw.rstrip("/")


def _origin(raw: str) -> str:
    """``WIDGET_PUBLIC_URL``: the loader and the frame's forms use paths from the origin's root."""
    url = _url(raw)
    parts = urlsplit(url)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SettingsError(
            "the server is reached at the root of its origin, so write the origin only, "
            "e.g. https://widget.example.org"
        )
    return url


def _rate(raw: str) -> Rate:
    try:
        return Rate.parse(raw)
    except RateError as exc:
        raise SettingsError(str(exc)) from None


def _positive_int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SettingsError("expected a whole number") from None


def _seconds(raw: str) -> float:
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):
        raise SettingsError("expected a number of seconds")
    return seconds


def _database_url(raw: str) -> str:
    value = raw.strip()
    if value and urlsplit(value).scheme not in ("postgresql", "postgres"):
        raise SettingsError(
            "give a postgresql://user:password@host:port/database URL, "
            "or leave it empty for SQLite files in WIDGET_DATA_DIR"
        )
    return value


#: Every environment variable, without its ``WIDGET_`` prefix, and its parser.
ENVIRONMENT: dict[str, Callable[[str], object]] = {
    "mode": str,
    "secret_keys": _keys,
    "public_url": _origin,
    "data_dir": Path,
    "database_url": _database_url,
    "trees": Path,
    "partners": Path,
    "routes": Path,
    "alerts": Path,
    "intake_url": _url,
    "intake_key": str,
    "state_max_age": _positive_int,
    "operator_key": str,
    "reload_interval": _seconds,
    "forward_deadline": _seconds,
    "case_retention": _positive_int,
    "live_wait": _seconds,
    "report_rate_client": _rate,
    "report_rate_partner": _rate,
    "log_format": str.lower,
    "metrics_address": _address,
    "graceful_timeout": _seconds,
    "workers": _positive_int,
    "open_data_license": _license,
}

#: Variables whose value is never shown in an error.
_SECRET = frozenset({"database_url"})

#: Environment names that differ from the field they set.
_FIELD = {
    "trees": "trees_dir",
    "partners": "partners_file",
    "routes": "routes_file",
    "alerts": "alerts_file",
}
