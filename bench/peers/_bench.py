"""Puts ``bench/`` and the repository's root on ``sys.path`` for the scripts of ``bench/peers``.

A script run as ``python bench/peers/compare.py`` has only ``bench/peers/`` on
its path; importing this first lets it share ``bench/``'s helpers (the trace
code of ``loader_host_cost.py``, ``_steps.machine``) and ``testkit`` as the
other benches do.
"""

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import _root  # noqa: E402, F401  (the repository's root on the path)
