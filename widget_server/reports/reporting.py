"""The report pipeline of one server process: its outbox, routes, forwarder and limits.

A long-lived object, built once with the app and kept in
``app.state.reporting``; the report step's handlers (:mod:`widget_server.frame.report`)
only read it. ``running()`` forwards the outbox for the life of the app.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from widget_server.i18n import LOCALES_DIR, Messages, Translator, load_messages
from widget_server.ratelimit import RefusalLog
from widget_server.reports.forwarder import Forwarder, Tuning, running
from widget_server.reports.outbox import Outbox
from widget_server.reports.routes import Routes, load_routes
from widget_server.settings import Settings
from widget_server.sharedlimits import report_limits

log = logging.getLogger("widget_server.report")

#: Where the report step's own texts are, one file per locale.
MESSAGES_DIR = LOCALES_DIR / "report"


class Reporting:
    """The outbox, the routes and the forwarder of one server process."""

    def __init__(
        self,
        settings: Settings,
        *,
        outbox: Outbox | None = None,
        routes: Routes | None = None,
        tuning: Tuning | None = None,
        forward: bool = True,
    ) -> None:
        """Open the outbox and read the routes; a bad routes file raises ``ProblemsError``.

        ``forward=False`` only stores reports: for a deployment where a separate
        ``widget-server outbox forward`` process sends them, and for tests that
        look at the outbox before anything is sent.
        """
        self.settings = settings
        self.routes = routes if routes is not None else load_routes(settings)
        self.outbox = outbox if outbox is not None else Outbox.for_settings(settings)
        self.messages: Messages = load_messages(MESSAGES_DIR)
        self.tuning = tuning if tuning is not None else Tuning.for_settings(settings)
        self.forward = forward
        self.forwarder: Forwarder | None = None
        self.limits = report_limits(settings)
        self.refusals = RefusalLog(log)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Reporting]:
        """Forward the outbox for the life of the app (use it in the lifespan)."""
        try:
            if not self.forward:
                yield self
                return
            async with running(self.settings, self.outbox, self.routes, tuning=self.tuning) as fwd:
                self.forwarder = fwd
                try:
                    yield self
                finally:
                    self.forwarder = None
        finally:
            self.refusals.flush(final=True)
            self.outbox.close()  # connections reopen on next use

    def wake(self) -> None:
        if self.forwarder is not None:
            self.forwarder.wake()

    def translator(self, locale: str) -> Translator:
        return self.messages.translator(locale)
