"""The ``widget-server`` command.

Each subcommand lives in the module that owns its job and registers itself
with a ``register(subparsers)`` function; this module only wires them up and
turns known failures (bad settings, bad files) into one clean error line and
exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from widget_server.cli import (
    backup,
    db,
    demo,
    intake,
    observatory,
    partners,
    preview,
    serve,
    trees,
)
from widget_server.problems import ProblemsError, WidgetServerError

#: Modules that register subcommands, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[ModuleType, ...] = (
    trees,
    preview,
    serve,
    intake,
    observatory,
    partners,
    db,
    backup,
    demo,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="widget-server",
        description="The victim diagnostic widget: serve it, embed it, check its trees.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
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
    except WidgetServerError as exc:  # bad settings, a bad command line, an unusable store
        print(f"widget-server: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return result
