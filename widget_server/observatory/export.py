"""The observatory's report written out: JSON-ready data and CSV.

Both are drawn from one :class:`~widget_server.observatory.figures.Report`, after the
small-count rule: a hidden count is written ``< 5`` and a hidden share or rate
is left out (``null`` in JSON, empty in CSV), never the number behind it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from widget_server.observatory.figures import Report
from widget_server.observatory.waves import Wave


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def wave_json(wave: Wave, share_hidden: bool) -> dict[str, Any]:
    return {
        "day": wave.day.isoformat(),
        "category": wave.category,
        "family": wave.family,
        "count": wave.count,
        "share": None if share_hidden else _rounded(wave.share),
        "baseline": _rounded(wave.baseline),
        "score": wave.score,
        "p_value": float(f"{wave.p_value:.2g}"),
    }


def report_json(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data: hidden counts as ``"< 5"``, hidden shares as ``null``."""
    tables: dict[str, Any] = {}
    for table in report.tables:
        rows = []
        for row in table.rows:
            item: dict[str, Any] = {"key": row.key, "label": row.label}
            if row.family is not None:
                item["family"] = row.family
            item.update({measure: figure.public for measure, figure in row.figures.items()})
            if table.share_of:
                item["share"] = _rounded(row.share)
            rows.append(item)
        tables[table.name] = {"title": table.title, "measures": list(table.measures), "rows": rows}
    rule = report.rule
    return {
        "period": {
            "from": report.period.start.isoformat(),
            "to": report.period.end.isoformat(),
            "partner": report.period.partner,
        },
        "threshold": report.threshold,
        "totals": {name: figure.public for name, figure in report.totals.items()},
        "rates": {name: _rounded(value) for name, value in report.rates.items()},
        "tables": tables,
        "waves": [wave_json(w, w.day in report.wave_shares_hidden) for w in report.waves],
        "wave_rule": {
            "window_days": rule.window_days,
            "min_count": rule.min_count,
            "min_baseline": rule.min_baseline,
            "min_ratio": rule.min_ratio,
            "min_score": rule.min_score,
        },
    }


CSV_COLUMNS = ("section", "key", "label", "measure", "value")


def report_rows(report: Report) -> Iterator[tuple[str, str, str, str, object]]:
    """The report as long rows (section, key, label, measure, value), as the CSV has them.

    Hidden counts read ``< 5``; hidden shares and rates are empty; shares and
    rates are fractions with four decimals.
    """
    for name, figure in report.totals.items():
        yield ("totals", name, "", "count", figure.public)
    for name, value in report.rates.items():
        yield ("rates", name, "", "ratio", _fraction(value))
    for table in report.tables:
        for row in table.rows:
            for measure, figure in row.figures.items():
                yield (table.name, row.key, row.label, measure, figure.public)
            if table.share_of:
                yield (table.name, row.key, row.label, "share", _fraction(row.share))
    for wave in report.waves:
        key = f"{wave.day.isoformat()}/{wave.category}"
        share = None if wave.day in report.wave_shares_hidden else wave.share
        yield ("waves", key, wave.category, "count", wave.count)
        yield ("waves", key, wave.category, "share", _fraction(share))
        yield ("waves", key, wave.category, "baseline", _fraction(wave.baseline))
        yield ("waves", key, wave.category, "score", f"{wave.score:.1f}")
        yield ("waves", key, wave.category, "p_value", f"{wave.p_value:.2g}")


def _fraction(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def report_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(report_rows(report))
    return out.getvalue()
