"""The ``widget-server`` command: one module per group of subcommands."""

from widget_server.cli.command import main as main
