"""``python -m widget_server.cli``: the ``widget-server`` command, for tests and scripts."""

import sys

from widget_server.cli.command import main

sys.exit(main())
