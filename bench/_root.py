"""Puts the repository's root on ``sys.path``, so a bench script imports ``testkit`` as tests do.

A script run as ``python bench/x.py`` has only ``bench/`` on its path; import
this module before anything from ``testkit``.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
