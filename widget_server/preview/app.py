"""The preview's routes: the trees and their problems, a tree's graph and nodes, the changes.

- ``GET /``: every tree file of the folder, with the problems of the folder as
  ``widget-server validate`` prints them;
- ``GET /trees/{tree}``: the tree's graph (SVG drawn here, :mod:`.graph_svg`)
  and each node in the four locales, one frame each; its problems instead
  while the folder has any;
- ``GET /trees/{tree}/graph.svg``: the graph alone;
- ``GET /node/{tree}/{node}?lang=``: the node's page, drawn by the frame's own
  step handler (:func:`widget_server.frame.steps.show`) from a signed state
  whose answers lead there (:mod:`.paths`), with the frame's templates, CSS,
  script and headers;
- ``/w/{token}`` and ``/w/{token}/step``, the frame's static files and theme:
  the frame's own routes, so a node page's buttons work as a victim's do;
- ``GET /changes``: the event stream that makes open pages reload (:mod:`.watch`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from widget_server import app as frame_app
from widget_server.frame import steps
from widget_server.frame.assets import IMMUTABLE
from widget_server.frame.headers import SecurityHeaders
from widget_server.frame.request import Frame, FrameFailure
from widget_server.i18n import known
from widget_server.operations.stopping import on_stop_signal
from widget_server.preview.config import PARTNER_ID
from widget_server.preview.graph_svg import Drawing, layout, render_svg
from widget_server.preview.pages import LANGUAGE_NAMES, Pages
from widget_server.preview.paths import answers_to_nodes
from widget_server.preview.watch import POLL_INTERVAL, Changes
from widget_server.preview.workspace import Snapshot, Workspace, problems_of
from widget_server.settings import Settings
from widget_server.signing import State
from widget_server.trees.model import LOCALES, Outcome, Question, Tree
from widget_server.trees.walk import Position

#: The locale of the preview's own texts and of the graph's labels.
AUTHOR_LOCALE = "en"


@dataclass(frozen=True)
class Preview:
    workspace: Workspace
    changes: Changes
    pages: Pages
    #: The preview partner's embed token, signed with this run's throwaway key.
    token: str


@dataclass(frozen=True)
class TreeRow:
    id: str
    title: str | None
    nodes: int | None
    problems: int


@dataclass(frozen=True)
class NodeRow:
    id: str
    description: str


def create_preview_app(
    settings: Settings,
    *,
    origins: tuple[str, ...] = ("'self'",),
    watch: bool = True,
    interval: float = POLL_INTERVAL,
) -> Starlette:
    """The preview of ``settings.trees_dir``, checked now, and every ``interval`` seconds
    while served when ``watch``. ``origins`` are where it is served (see :mod:`.config`)."""
    workspace = Workspace(settings, origins)
    workspace.refresh()
    changes = Changes(workspace)
    preview = Preview(
        workspace,
        changes,
        Pages(settings.trees_dir),
        workspace.widget.signer.embed_token(PARTNER_ID),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(changes.watch(interval), name="preview-watch") if watch else None
        try:
            with on_stop_signal(changes.stop):
                yield
        finally:
            changes.stop()
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/trees/{tree}", tree_page, methods=["GET"]),
            Route("/trees/{tree}/graph.svg", graph_file, methods=["GET"]),
            Route("/node/{tree}/{node}", node_page, methods=["GET"]),
            Route("/changes", change_events, methods=["GET"]),
            Route("/preview.{version}.{kind}", preview_asset, methods=["GET"]),
            Route("/w/{token}", steps.first_step, methods=["GET"]),
            Route("/w/{token}/step", steps.next_step, methods=["POST"]),
            Route("/w/{token}/report", not_sent, methods=["POST"]),
            Route("/static/frame.{version}.{kind}", frame_app.frame_asset, methods=["GET"]),
            Route("/theme/{partner}.{version}.css", frame_app.theme_css, methods=["GET"]),
            Route("/favicon.ico", frame_app.no_icon, methods=["GET"]),
        ],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={FrameFailure: frame_app.frame_failure, HTTPException: not_found},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.state.widget = workspace.widget  # what the frame's handlers read
    app.state.preview = preview
    return app


def _preview(request: Request) -> Preview:
    preview: Preview = request.app.state.preview
    return preview


async def index(request: Request) -> Response:
    preview = _preview(request)
    snapshot = preview.workspace.snapshot
    catalog = snapshot.world.catalog if snapshot.world is not None else None
    rows = []
    for path in preview.workspace.tree_files():
        tree = catalog.trees.get(path.stem) if catalog is not None else None
        rows.append(
            TreeRow(
                id=path.stem,
                title=tree.title.text(AUTHOR_LOCALE) if tree is not None else None,
                nodes=len(tree.nodes) if tree is not None else None,
                problems=len(problems_of(path, snapshot.problems)),
            )
        )
    return preview.pages.render("index.html", snapshot, rows=rows)


async def tree_page(request: Request) -> Response:
    """The tree's graph and nodes; the folder's problems instead while it has any."""
    preview = _preview(request)
    snapshot = preview.workspace.snapshot
    tree_id = request.path_params["tree"]
    tree = _tree(snapshot, tree_id)
    title = tree.title.text(AUTHOR_LOCALE) if tree is not None else None
    if snapshot.problems and (tree is not None or _has_file(preview, tree_id)):
        return preview.pages.render("tree.html", snapshot, tree_id=tree_id, title=title)
    if tree is None:
        return _missing(request, f"There is no tree {tree_id!r} in the folder.")
    graph = render_svg(_drawing(tree), preview.pages.templates)
    nodes = [NodeRow(node_id, _describe(node)) for node_id, node in tree.nodes.items()]
    languages = [(code, LANGUAGE_NAMES.get(code, code)) for code in LOCALES]
    return preview.pages.render(
        "tree.html",
        snapshot,
        tree_id=tree_id,
        title=title,
        graph=graph,
        nodes=nodes,
        languages=languages,
    )


async def graph_file(request: Request) -> Response:
    preview = _preview(request)
    tree = _tree(preview.workspace.snapshot, request.path_params["tree"])
    if tree is None:
        return _missing(request, "There is no such tree, or the folder has problems.")
    svg = render_svg(_drawing(tree), preview.pages.templates)
    return Response(svg, media_type="image/svg+xml")


async def node_page(request: Request) -> Response:
    """A node's page in ``?lang=``, exactly as the frame draws it for a victim who got there."""
    preview = _preview(request)
    world = preview.workspace.snapshot.world
    tree_id, node_id = request.path_params["tree"], request.path_params["node"]
    tree = world.catalog.trees.get(tree_id) if world is not None else None
    node = tree.nodes.get(node_id) if tree is not None else None
    partner = world.registry.get(PARTNER_ID) if world is not None else None
    if world is None or node is None or partner is None:
        return _missing(request, f"There is no node {node_id!r} in the tree {tree_id!r}.")
    locale = known(request.query_params.get("lang")) or LOCALES[0]
    here = f"{request.url.scheme}://{request.url.netloc}"
    parent = here if partner.allows(here) else None
    frame = Frame(preview.workspace.widget, world, preview.token, partner, parent, locale)
    answers = answers_to_nodes(world.catalog, tree_id).get(node_id)
    state = State(PARTNER_ID, tree_id, answers or (), locale, partner.country, counted=False)
    # A node no answer reaches (the compiler refuses those) is still drawn, from nowhere.
    position = None if answers is not None else Position(tree_id, node, ())
    return steps.show(frame, state, autofocus=False, position=position)


async def change_events(request: Request) -> Response:
    changes = _preview(request).changes
    return StreamingResponse(
        changes.stream(request),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


async def preview_asset(request: Request) -> Response:
    asset = _preview(request).pages.asset(
        request.path_params["kind"], request.path_params["version"]
    )
    if asset is None:
        return _missing(request, "There is no such file.")
    return asset.response(request, cache=IMMUTABLE)


async def not_sent(request: Request) -> Response:
    """An outcome's report and talk buttons: the preview says what would follow, sends nothing."""
    preview = _preview(request)
    return preview.pages.render("not_sent.html", preview.workspace.snapshot)


async def not_found(request: Request, exc: Exception) -> Response:
    """The frame's own error pages under ``/w/``; the preview's page anywhere else."""
    if request.url.path.startswith("/w/"):
        return await frame_app.http_error(request, exc)
    return _missing(request, "There is no such page.")


def _missing(request: Request, text: str) -> Response:
    preview = _preview(request)
    return preview.pages.render("missing.html", preview.workspace.snapshot, status=404, text=text)


def _tree(snapshot: Snapshot, tree_id: str) -> Tree | None:
    return snapshot.world.catalog.trees.get(tree_id) if snapshot.world is not None else None


def _has_file(preview: Preview, tree_id: str) -> bool:
    return any(path.stem == tree_id for path in preview.workspace.tree_files())


def _drawing(tree: Tree) -> Drawing:
    return layout(
        tree,
        AUTHOR_LOCALE,
        node_href=lambda node: f"/trees/{quote(tree.id)}#node-{quote(node)}",
        tree_href=lambda other: f"/trees/{quote(other)}",
    )


def _describe(node: Question | Outcome) -> str:
    if isinstance(node, Question):
        kind = "multiple-choice question" if node.multiple else "question"
        return f"{kind}, “{node.text.text(AUTHOR_LOCALE)}”"
    return f"outcome ({node.severity}), “{node.title.text(AUTHOR_LOCALE)}”"
