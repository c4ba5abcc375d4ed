"""The public sources a trees folder cites: ``# source: URL (checked YYYY-MM-DD)`` comments.

A number, a law or a deadline in the trees comes from a public page the author
names beside it, in a YAML comment victims never see. This module finds those
comments so ``widget-server trees list --sources`` can print them for a reviewer,
with the day each was last checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

CITATION = re.compile(r"#\s*source\b[^:]*:\s*(?P<url>https?://\S+)(?P<rest>.*)$")
CHECKED = re.compile(r"checked (\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True, slots=True)
class Citation:
    file: Path
    line: int
    url: str
    #: The day the source was last checked, when the comment says it.
    checked: date | None


def citations(folder: Path) -> Iterator[Citation]:
    """Every source comment of the folder's YAML files, file by file, line by line."""
    for path in sorted(folder.glob("*.yaml")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            found = CITATION.search(line)
            if found is None:
                continue
            checked = CHECKED.search(found["rest"])
            yield Citation(
                path,
                number,
                found["url"].rstrip(").,;"),
                date.fromisoformat(checked[1]) if checked else None,
            )
