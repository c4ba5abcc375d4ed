"""What a POST of the frame sent: the form, read strictly, and the signed state in it.

Every POST route of the frame (a step, the report) starts with
:func:`read_post`: a refused token, a body that is not a small urlencoded form,
a field sent twice and a bad state never reach a handler: each raises the
:class:`~widget_server.frame.request.FrameFailure` whose page answers it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl

from starlette.requests import Request

from widget_server.frame.request import BadForm, Frame, Restart, open_frame
from widget_server.signing import BadState, StaleState, State
from widget_server.trees.model import LOCALES

#: A step form has a handful of fields; a few dozen checkboxes at most.
MAX_FIELDS = 64


async def read_post(
    request: Request, single_fields: Sequence[str]
) -> tuple[Frame, State, dict[str, list[str]]]:
    """The frame, signed state and form a POST route works on.

    Every POST route of the frame starts here: a refused token (``Refused``),
    a form that is not one or repeats a field of ``single_fields``
    (``BadForm``) and a bad state (``Restart``) never reach a handler.
    """
    frame = open_frame(request)
    form = await read_form(request)
    if form is None or any(len(form.get(key, ())) > 1 for key in single_fields):
        raise BadForm(frame)
    state, frame = load_state(frame, form)
    return frame, state, form


def load_state(frame: Frame, form: Mapping[str, list[str]]) -> tuple[State, Frame]:
    """The form's signed state and the frame in its locale; raises :class:`Restart`.

    A state that is missing, forged, too old or for another partner never
    reaches a handler.
    """
    raw = single(form, "state")
    if raw is None:
        raise Restart(frame, 400)
    try:
        state = frame.widget.signer.read_state(raw)
    except StaleState:
        raise Restart(frame, 200) from None
    except BadState:
        raise Restart(frame, 400) from None
    if frame.partner is None or state.partner != frame.partner.id or state.locale not in LOCALES:
        raise Restart(frame, 400)
    return state, frame.with_locale(state.locale)


async def read_form(request: Request) -> dict[str, list[str]] | None:
    """An urlencoded form's fields, or ``None`` for anything else (a 400).

    Parsed by hand with strict limits: a step form is small, multipart is
    never needed, and ``parse_qsl`` costs less than a multipart parser.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return None
    body = await request.body()
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return None
    fields: dict[str, list[str]] = {}
    for key, value in pairs:
        fields.setdefault(key, []).append(value)
    return fields


def single(form: Mapping[str, list[str]], key: str) -> str | None:
    values = form.get(key, [])
    return values[0] if len(values) == 1 else None
