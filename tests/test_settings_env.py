"""``WIDGET_*`` variables: a wrong value is refused with a line naming the variable."""

from __future__ import annotations

import pytest

from widget_server.reports.routes import load_routes
from widget_server.settings import MIN_KEY_LENGTH, Settings, SettingsError, sends_privately

PRODUCTION = {
    "WIDGET_MODE": "production",
    "WIDGET_SECRET_KEYS": "s" * MIN_KEY_LENGTH,
    "WIDGET_INTAKE_KEY": "i" * MIN_KEY_LENGTH,
}


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("WIDGET_STATE_MAX_AGE", "abc", "expected a whole number"),
        ("WIDGET_RELOAD_INTERVAL", "soon", "expected a number of seconds"),
        ("WIDGET_RELOAD_INTERVAL", "nan", "expected a number of seconds"),
        ("WIDGET_FORWARD_DEADLINE", "inf", "expected a number of seconds"),
        ("WIDGET_INTAKE_URL", "intake.example.org/reports", "expected an http(s) URL"),
        ("WIDGET_PUBLIC_URL", "https://", "expected an http(s) URL"),
        ("WIDGET_PUBLIC_URL", "https://x.example;foo", "not a host name or an IP address"),
        ("WIDGET_PUBLIC_URL", "https://x.example:port", "expected an http(s) URL"),
        ("WIDGET_REPORT_RATE_CLIENT", "lots", "5/hour"),
        ("WIDGET_METRICS_ADDRESS", "9108", "expected host:port"),
        ("WIDGET_METRICS_ADDRESS", "127.0.0.1:99999", "expected host:port"),
        ("WIDGET_GRACEFUL_TIMEOUT", "soon", "expected a number of seconds"),
        ("WIDGET_OPEN_DATA_LICENSE", "Etalab/2.0", "expected a licence id first"),
    ],
)
def test_a_value_that_does_not_parse_names_its_variable(variable: str, value: str, words: str):
    with pytest.raises(SettingsError) as caught:
        Settings.from_environ({variable: value})
    message = str(caught.value)
    assert message.startswith(f"{variable}={value}: ") and words in message


def test_the_operations_settings():
    assert Settings.from_environ({}).log_format == "text"
    settings = Settings.from_environ(
        {
            "WIDGET_LOG_FORMAT": "JSON",
            "WIDGET_METRICS_ADDRESS": "[::1]:9108",
            "WIDGET_GRACEFUL_TIMEOUT": "25",
        }
    )
    assert (settings.log_format, settings.metrics_address, settings.graceful_timeout) == (
        "json",
        "[::1]:9108",
        25.0,
    )
    with pytest.raises(SettingsError, match=r"^WIDGET_LOG_FORMAT must be 'text' or 'json'"):
        Settings.from_environ({"WIDGET_LOG_FORMAT": "xml"})
    with pytest.raises(SettingsError, match=r"^WIDGET_GRACEFUL_TIMEOUT must be between 0"):
        Settings.from_environ({"WIDGET_GRACEFUL_TIMEOUT": "-1"})


def test_a_negative_reload_interval_is_refused():
    with pytest.raises(SettingsError, match=r"^WIDGET_RELOAD_INTERVAL must be 0 \(no reloading\)"):
        Settings.from_environ({"WIDGET_RELOAD_INTERVAL": "-1"})
    assert Settings.from_environ({"WIDGET_RELOAD_INTERVAL": "0"}).reload_interval == 0


@pytest.mark.parametrize(
    "url", ["https://widget.example.org/app", "https://widget.example.org/?x=1", "http://h/#a"]
)
def test_the_public_url_is_an_origin_only(url: str):
    with pytest.raises(SettingsError) as caught:
        Settings.from_environ({"WIDGET_PUBLIC_URL": url})
    message = str(caught.value)
    assert message.startswith(f"WIDGET_PUBLIC_URL={url}: ")
    assert "write the origin only, e.g. https://widget.example.org" in message


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://widget.example.org", "https://widget.example.org"),
        ("https://widget.example.org/", "https://widget.example.org"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ],
)
def test_an_origin_is_accepted_without_its_slash(url: str, kept: str):
    assert Settings.from_environ({"WIDGET_PUBLIC_URL": url}).public_url == kept


@pytest.mark.parametrize(
    ("url", "private"),
    [
        ("https://intake.example.org/reports", True),
        ("http://127.0.0.1:8002/reports", True),
        ("http://localhost:8002/reports", True),
        ("http://[::1]:8002/reports", True),
        ("http://intake.example.org/reports", False),
        ("http://127.0.0.1.example.org/reports", False),
    ],
)
def test_production_posts_to_the_default_intake_like_to_a_route(url: str, private: bool):
    """One rule for WIDGET_INTAKE_URL and the routes file: https, or plain http on loopback."""
    assert sends_privately(url) is private
    environ = {**PRODUCTION, "WIDGET_INTAKE_URL": url}
    if private:
        settings = Settings.from_environ(environ)
        assert load_routes(settings, environ={}).default.url == url
    else:
        with pytest.raises(SettingsError, match=r"^WIDGET_INTAKE_URL=http://.*https only"):
            Settings.from_environ(environ)
    # Development takes any http(s) intake, as before.
    assert Settings.from_environ({"WIDGET_INTAKE_URL": url}).intake_url == url
