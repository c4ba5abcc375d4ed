"""What the frame tells the observatory: one anonymous event per start, outcome and report.

Each event is recorded by a background task of the response, after the victim's
page has been sent, and written with the others of the same second
(:meth:`EventStore.flush <widget_server.observatory.events.EventStore.flush>`): a slow or
broken statistics database never delays a victim nor turns their page into an
error. Everything that can fail (looking the tree
or the category up, checking and writing the event) is caught here and logged
as one line with the error's type, never a value.

What is counted, and when (see ``docs/observatory.md``):

- *started*: the widget's first step was shown (``GET /w/{token}``, not
  ``HEAD``); it gives the diagnosis its random id;
- *completed*: an answer (or an alert's one tap) led to an outcome, once per
  diagnosis: a later outcome of the same diagnosis (Back, another answer)
  replaces the earlier one, and showing or replaying one counts nothing new;
- *reported*: a report was accepted into the outbox, once per diagnosis;
- a *step*: a question or an outcome was shown, for where victims give up
  (:mod:`~widget_server.observatory.dropoff`).

A client past its day's budget (:data:`~widget_server.observatory.events.DIAGNOSES_PER_CLIENT`)
gets diagnoses that are not counted at all (``State.counted``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.background import BackgroundTask, BackgroundTasks

from widget_server.observatory.event import victim_kind
from widget_server.observatory.events import EventStore
from widget_server.signing import State
from widget_server.trees.model import Catalog
from widget_server.trees.walk import Position

logger = logging.getLogger("widget_server.observatory")


def started(store: EventStore | None, catalog: Catalog, state: State) -> BackgroundTask | None:
    """The event of a first step shown, to run after the page is sent."""
    if store is None or not state.counted:
        return None
    return _task(
        store.record_started,
        lambda: {
            **_where(catalog, state.tree, state),
            "country": state.country,
            "diagnosis": state.diagnosis,
        },
    )


def completed(
    store: EventStore | None, catalog: Catalog, state: State, position: Position
) -> BackgroundTask | None:
    """The event of an outcome reached, to run after the outcome page is sent."""
    if store is None or not state.counted:
        return None
    return _task(
        store.record_completed,
        lambda: {
            **_outcome(catalog, state, position),
            "country": state.country,
            "diagnosis": state.diagnosis,
        },
    )


def reported(
    store: EventStore | None,
    catalog: Catalog,
    state: State,
    position: Position,
    *,
    country: str,
    with_identity: bool,
) -> BackgroundTask | None:
    """The event of a report accepted, to run after the reference page is sent.

    ``country`` is the one the victim chose on the form (where the report goes),
    and ``with_identity`` only says whether they gave one: never what it was.
    """
    if store is None or not state.counted:
        return None
    return _task(
        store.record_reported,
        lambda: {
            **_outcome(catalog, state, position),
            "country": country,
            "with_identity": with_identity,
            "diagnosis": state.diagnosis,
        },
    )


def stepped(
    store: EventStore | None, catalog: Catalog, state: State, position: Position
) -> BackgroundTask | None:
    """The step of a question or an outcome shown, for where victims give up."""
    if store is None or not state.counted or not state.diagnosis:
        return None
    return _task(
        store.record_step,
        lambda: {
            "diagnosis": state.diagnosis,
            "tree": position.tree,
            "tree_version": catalog.trees[position.tree].version,
            "node": position.node.id,
            "finished": position.outcome is not None,
        },
    )


def chain(*tasks: BackgroundTask | None) -> BackgroundTasks | None:
    """Several of these tasks after one response, in order; ``None`` when there is none."""
    present = [task for task in tasks if task is not None]
    if not present:
        return None
    together = BackgroundTasks()
    for task in present:
        for one in task.tasks if isinstance(task, BackgroundTasks) else [task]:
            together.add_task(one.func, *one.args, **one.kwargs)
    return together


def _where(catalog: Catalog, tree_id: str, state: State) -> dict[str, Any]:
    return {
        "partner": state.partner,
        "tree": tree_id,
        "tree_version": catalog.trees[tree_id].version,
        "locale": state.locale,
    }


def _outcome(catalog: Catalog, state: State, position: Position) -> dict[str, Any]:
    outcome = position.outcome
    assert outcome is not None
    category = catalog.categories[outcome.category]
    return {
        **_where(catalog, position.tree, state),
        "category": category.id,
        "family": category.family,
        "severity": outcome.severity,
        "victim_kind": kind_of(state),
    }


def kind_of(state: State) -> str | None:
    """Who the victim is, from the entry tree's first answer.

    Unknown when the walk began elsewhere (an alert's one tap skips the
    entry tree's questions), or when the first answer is not a single choice.
    """
    if state.start is not None or not state.answers:
        return None
    first = state.answers[0]
    return victim_kind(first) if isinstance(first, str) else None


def _task(record: Callable[..., bool], fields: Callable[[], dict[str, Any]]) -> BackgroundTask:
    return BackgroundTask(_record, record, fields)


async def _record(record: Callable[..., bool], fields: Callable[[], dict[str, Any]]) -> None:
    # A coroutine, so Starlette runs it on the event loop: keeping an event for
    # the store's next flush takes microseconds, not a trip to the thread pool.
    try:
        record(**fields(), later=True)
    except Exception as exc:  # a statistic must never break a victim's request
        logger.warning("observatory: event not stored (%s)", type(exc).__name__)
