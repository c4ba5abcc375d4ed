"""``widget-server partners link``: a partner's link to its own figures.

The link is printed alone on stdout (to paste in a message to the partner); when
it expires and how to revoke it go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from widget_server.cli.serve import active_partner
from widget_server.observatory.partner_links import MAX_DAYS, FiguresLinks
from widget_server.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "partners",
        help="links partners open to see their own figures",
        description="Partners' own views of the observatory.",
    )
    commands = parser.add_subparsers(dest="partners_command", metavar="ACTION", required=True)
    link = commands.add_parser(
        "link",
        help="print a signed link to PARTNER's own figures",
        description="Print a link to PARTNER's own dashboard: its diagnoses by family, "
        "severity and day, completion and reports, under the small-count rule, and nothing "
        "of any other partner. Whoever holds it sees them until it expires; raise "
        "figures_link for the partner in the partners file to refuse every link printed "
        "before.",
    )
    link.add_argument("partner", metavar="PARTNER", help="a partner id from the partners file")
    link.add_argument(
        "--days", type=days, default=90, help=f"how long it works, 1 to {MAX_DAYS} (%(default)s)"
    )
    link.set_defaults(handler=run_link)


def days(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of days from 1 to {MAX_DAYS}")
    return int(value)


def run_link(args: argparse.Namespace) -> int:
    settings = Settings.from_environ()
    partner = active_partner(settings, args.partner)
    now = datetime.now(UTC)
    token = FiguresLinks(settings.secret_keys).sign(partner, args.days, now.timestamp())
    print(f"{settings.public_url}/figures/{token}")
    until = datetime.fromtimestamp(now.timestamp() + args.days * 86400, UTC)
    print(
        f"Works until {until:%Y-%m-%d %H:%M} UTC. To refuse it sooner, raise figures_link "
        f"(now {partner.figures_link}) for {partner.id} in {settings.partners_file}.",
        file=sys.stderr,
    )
    return 0
