"""``widget-server preview``: the tree authors' view, served on this machine (development only).

It lists the trees with their problems, draws each tree, and shows each node
as a victim sees it in the four locales; the page reloads when a file of the
trees folder is saved. It needs no secret key and no partner: the preview
makes throwaway ones (:mod:`widget_server.preview.config`). It listens on
127.0.0.1 unless told otherwise, and is never a way to serve victims.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from widget_server.preview.app import create_preview_app
from widget_server.preview.config import preview_settings, served_origins
from widget_server.problems import display_path

HOST = "127.0.0.1"
DEFAULT_PORT = 8003


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    preview = subparsers.add_parser(
        "preview",
        help="serve the tree authors' preview: problems, graphs, every node in every "
        "locale, reloaded on save (development only)",
        description="Development only. Serve a preview of a trees folder: the trees and "
        "their problems (as validate prints them), each tree's graph, and each node as a "
        "victim sees it in fr, en, ar and nl. An open page reloads by itself when a file "
        "of the folder is saved. Needs no secret key and no partner; listens on 127.0.0.1.",
    )
    preview.add_argument("--port", type=int, default=DEFAULT_PORT, help="the port (%(default)s)")
    preview.add_argument(
        "--host",
        default=HOST,
        help="the address to listen on (%(default)s: this machine only; development only, "
        "never a public address)",
    )
    preview.add_argument(
        "--trees",
        type=Path,
        dest="trees_dir",
        metavar="DIR",
        help="the trees folder (default: WIDGET_TREES, or the project's trees/)",
    )
    preview.set_defaults(handler=run_preview)


def run_preview(args: argparse.Namespace) -> int:
    settings = preview_settings(args.trees_dir)
    app = create_preview_app(settings, origins=served_origins(args.host, args.port))
    print(
        f"Preview of {display_path(settings.trees_dir)} at http://{args.host}:{args.port}/ "
        "(development only; Ctrl-C stops it)",
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0
