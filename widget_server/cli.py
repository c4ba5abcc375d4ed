"""The ``widget-server`` command.

Each subcommand lives in the module that owns its job and registers itself
with a ``register(subparsers)`` function; this module only wires them up and
turns known failures (bad settings, bad files) into one clean error line and
exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .outbox import OutboxError
from .problems import ProblemsError
from .settings import SettingsError

#: Modules that register subcommands, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "widget_server.commands_trees",
    "widget_server.commands_serve",
    "widget_server.commands_intake",
    "widget_server.commands_observatory",
    "widget_server.commands_demo",
)


class CommandError(Exception):
    """A command failed in a way the user can fix; the message says how."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="widget-server",
        description="The victim diagnostic widget: serve it, embed it, check its trees.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
    except ProblemsError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except (SettingsError, CommandError, OutboxError) as exc:
        print(f"widget-server: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
