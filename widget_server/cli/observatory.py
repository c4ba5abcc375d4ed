"""``widget-server observatory``: the observatory's figures and waves in a terminal.

It prints the very report the dashboard draws (same aggregates, same
small-count rule, same wave rule), as text for a person or as JSON or CSV for
a script. It reads the observatory under ``WIDGET_DATA_DIR`` (or in
``WIDGET_DATABASE_URL``) and never writes to it.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys

from widget_server.cli.errors import CommandError
from widget_server.observatory.disclosure import DEFAULT_THRESHOLD
from widget_server.observatory.events import FILENAME, EventStore
from widget_server.observatory.export import report_csv, report_json
from widget_server.observatory.figures import Labels, Period, PeriodError, Report, build_report
from widget_server.observatory.funnels import Funnel, build_funnels
from widget_server.problems import ProblemsError
from widget_server.settings import Settings
from widget_server.trees.compiler import load_catalog
from widget_server.trees.model import Catalog


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "observatory",
        help="print the observatory's figures and any waves",
        description="Print the anonymous figures of a period (default: the 28 days up to "
        "today, UTC) and the waves detected in it. Counts under the threshold are "
        'shown as "< 5", exactly as on the dashboard.',
    )
    parser.add_argument("--from", dest="start", metavar="DATE", help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", metavar="DATE", help="last day, YYYY-MM-DD")
    parser.add_argument("--partner", help="only this partner's diagnoses")
    parser.add_argument(
        "--tree",
        metavar="TREE",
        help="instead, where victims give up in TREE: per version and node, how many "
        "reached it and how many stopped there (no step for 30 minutes)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "csv"),
        default="text",
        help="text to read, or json and csv exactly as the dashboard exports them (%(default)s)",
    )
    parser.add_argument(
        "--threshold",
        type=int,
        metavar="N",
        default=DEFAULT_THRESHOLD,
        help='counts from 1 to N-1 are shown as "< N" (%(default)s)',
    )
    parser.set_defaults(handler=run_observatory)


def run_observatory(args: argparse.Namespace) -> int:
    settings = Settings.from_environ()
    path = settings.data_dir / FILENAME
    if not settings.database_url and not path.exists():
        raise CommandError(
            f"no observatory database at {path} (the server creates it when the first "
            "diagnosis starts; set WIDGET_DATA_DIR to the server's data folder)"
        )
    if args.threshold < 1:
        raise CommandError("--threshold must be at least 1")
    try:
        period = Period.parse(args.start, args.end, args.partner)
    except PeriodError as exc:
        raise CommandError(str(exc)) from None
    store = EventStore.for_settings(settings)
    if args.tree:
        if args.partner:
            raise CommandError("--tree counts every partner's diagnoses: leave out --partner")
        try:
            catalog = _catalog(settings)
            funnels = build_funnels(
                store,
                args.tree,
                period.start,
                period.end,
                trees=catalog.trees if catalog else {},
                threshold=args.threshold,
            )
        finally:
            store.close()
        print_funnels(args.tree, period, funnels, args.threshold, args.format)
        return 0
    try:
        report = build_report(
            store, period, threshold=args.threshold, labels=Labels.from_catalog(_catalog(settings))
        )
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps(report_json(report), ensure_ascii=False, indent=2))
    elif args.format == "csv":
        sys.stdout.write(report_csv(report))
    else:
        sys.stdout.write(report_text(report))
    return 0


def _catalog(settings: Settings) -> Catalog | None:
    """The catalog, only to name categories and countries; broken trees still give figures."""
    try:
        return load_catalog(settings.trees_dir)
    except (ProblemsError, OSError):
        print(
            f"widget-server: warning: trees in {settings.trees_dir} do not load; "
            "showing ids instead of names (run widget-server validate)",
            file=sys.stderr,
        )
        return None


def print_funnels(
    tree: str, period: Period, funnels: list[Funnel], threshold: int, fmt: str
) -> None:
    """The funnels of ``tree`` as text, JSON or CSV, with the small-count rule applied."""
    rows = [
        {
            "tree": tree,
            "tree_version": funnel.tree_version,
            "current": funnel.current,
            "node": row.node,
            "outcome": row.is_outcome,
            "reached": row.reached.public,
            "stopped": row.stopped.public,
            "stopped_share": row.stopped_share,
        }
        for funnel in funnels
        for row in funnel.rows
    ]
    if fmt == "json":
        document = {
            "tree": tree,
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "threshold": threshold,
            "nodes": rows,
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["tree"])
        writer.writeheader()
        writer.writerows(rows)
        return
    print(
        f"Where victims give up in {tree}: {period.start.isoformat()} to "
        f"{period.end.isoformat()} (UTC), all partners"
    )
    print(
        f'Counts under {threshold} are shown as "< {threshold}"; a diagnosis stopped at a '
        "question when no step followed for 30 minutes and it reached no outcome."
    )
    if not funnels:
        print("\n  No diagnosis went through this tree in the period.")
    for funnel in funnels:
        now = " (running now)" if funnel.current else ""
        print(f"\nVersion {funnel.tree_version}{now}")
        print(f"  {'node':<28}{'reached':>9}{'stopped':>9}{'stopped %':>11}  text")
        for row in funnel.rows:
            share = "" if row.is_outcome else _percent(row.stopped_share)
            kind = "outcome: " if row.is_outcome else ""
            print(
                f"  {row.node[:27]:<28}{row.reached!s:>9}{row.stopped!s:>9}{share:>11}  "
                f"{kind}{row.label[:60]}"
            )


def _percent(value: float | None) -> str:
    return "hidden" if value is None else f"{100 * value:.1f}%"


def report_text(report: Report) -> str:
    """The report as aligned plain text."""
    period = report.period
    scope = f"partner {period.partner}" if period.partner else "all partners"
    lines = [
        f"Observatory: {period.start.isoformat()} to {period.end.isoformat()} (UTC), {scope}",
        f'Counts under {report.threshold} are shown as "< {report.threshold}"; shares and rates '
        'computed from them as "hidden".',
        "",
        "Totals",
    ]
    totals, rates = report.totals, report.rates
    for label, value in (
        ("Diagnoses started", str(totals["started"])),
        ("Diagnoses completed", str(totals["completed"])),
        ("Completion rate", _percent(rates["completion_rate"])),
        ("Reports sent", str(totals["reported"])),
        ("Completed diagnoses reported", _percent(rates["report_share"])),
        ("Reports with identity", str(totals["with_identity"])),
        ("Share of reports with identity", _percent(rates["identity_share"])),
    ):
        lines.append(f"  {label:<36}{value:>10}")
    for table in report.tables:
        lines.append("")
        headers = [m.capitalize() for m in table.measures]
        if table.share_of:
            headers.append("Share")
        lines.append(f"{table.title:<38}" + "".join(f"{h:>11}" for h in headers))
        for row in table.rows:
            cells = [str(row.figures[m]) for m in table.measures]
            if table.share_of:
                cells.append(_percent(row.share))
            lines.append(f"  {row.label[:35]:<36}" + "".join(f"{c:>11}" for c in cells))
        if not table.rows:
            lines.append("  (none)")
    lines += ["", "Waves"]
    if not report.waves:
        lines.append("  No wave detected in this period.")
    names = {row.key: row.label for row in report.table("categories").rows}
    for wave in report.waves:
        share = "hidden" if wave.day in report.wave_shares_hidden else _percent(wave.share)
        name = names.get(wave.category, wave.category)
        lines.append(
            f"  WAVE {wave.day.isoformat()} {name} ({wave.category}): {wave.count} "
            f"completed diagnoses, {share} of the day against {_percent(wave.baseline)} "
            f"before; score {wave.score:.1f} (p = {wave.p_value:.1g})"
        )
    return "\n".join(lines) + "\n"
