"""What a command can fail with, in a way the user can fix."""

from __future__ import annotations

from widget_server.problems import WidgetServerError


class CommandError(WidgetServerError):
    """A command failed in a way the user can fix; the message says how."""
