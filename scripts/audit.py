"""Checks every distribution installed in the project's venv against PyPI's advisories.

PyPI's JSON API carries the advisories (from OSV) that affect a release:
``/pypi/NAME/VERSION/json`` lists those of exactly that version. Some networks
(this project's build machine among them) answer only the project document
``/pypi/NAME/json``, whose list applies to the *latest* release alone; so when
the per-version document is missing, a package is still checked if its
installed version is the latest, and is reported *unchecked* otherwise, never
silently passed. Standard library only, so auditing installs nothing into, and
trusts nothing from, what it audits; the installed distributions are read by
the venv's own interpreter, as they are what the server imports.

Exit status: 0 every package checked and none vulnerable, 1 a known
vulnerability, 2 some package could not be checked (0 with ``--no-strict``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INDEX = "https://pypi.org/pypi"
USER_AGENT = "widget-server-audit (+scripts/audit)"

#: Run by the venv's interpreter in isolated mode (-I: not the current directory's
#: metadata): its distributions as JSON, editable installs marked.
LIST_DISTRIBUTIONS = """
import importlib.metadata as md, json, sys
paths = sys.argv[1:] or None
found = []
for dist in md.distributions(**({"path": paths} if paths else {})):
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    editable = bool(direct.get("dir_info", {}).get("editable"))
    found.append([dist.metadata["Name"], dist.version, editable])
print(json.dumps(found))
"""


@dataclass(frozen=True)
class Package:
    name: str
    version: str


@dataclass(frozen=True)
class Vulnerability:
    id: str
    aliases: tuple[str, ...]
    fixed_in: tuple[str, ...]
    link: str


@dataclass
class Verdict:
    """What the index said about one package: vulnerabilities, or why it is unchecked."""

    package: Package
    vulnerabilities: list[Vulnerability] = field(default_factory=list)
    unchecked: str | None = None


class IndexUnreachable(Exception):
    """The index could not answer (network, HTTP error other than 404, bad JSON)."""


def canonical(name: str) -> str:
    """PEP 503 name, as the index spells its URLs."""
    return re.sub(r"[-_.]+", "-", name).lower()


def same_version(a: str, b: str) -> bool:
    """``1.0`` and ``1.0.0`` are one release; anything not plain numbers compares as text."""

    def key(version: str) -> object:
        text = version.strip().lower().removeprefix("v")
        if re.fullmatch(r"\d+(\.\d+)*", text):
            parts = [int(p) for p in text.split(".")]
            while len(parts) > 1 and parts[-1] == 0:
                parts.pop()
            return tuple(parts)
        return text

    return key(a) == key(b)


def installed(python: str, paths: Sequence[str]) -> list[Package]:
    """The venv's distributions, without editable installs (the project itself)."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and snippet
        [python, "-I", "-c", LIST_DISTRIBUTIONS, *paths],
        capture_output=True,
        text=True,
        check=True,
    )
    packages: dict[str, Package] = {}
    for name, version, editable in json.loads(done.stdout):
        if not editable and canonical(name) not in packages:  # the first on the path wins
            packages[canonical(name)] = Package(name, version)
    return sorted(packages.values(), key=lambda p: canonical(p.name))


def fetch(url: str, timeout: float) -> dict[str, Any] | None:
    """The JSON document at ``url``, ``None`` for a 404; other failures raise IndexUnreachable."""
    if not url.startswith(("https://", "http://")):  # never file: or another scheme
        raise IndexUnreachable(f"not an HTTP URL: {url}")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            document = json.load(answer)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise IndexUnreachable(f"the index answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise IndexUnreachable(f"the index did not answer ({reason})") from exc
    except ValueError as exc:
        raise IndexUnreachable("the index answered something that is not JSON") from exc
    if not isinstance(document, dict):
        raise IndexUnreachable("the index answered an unexpected document")
    return document


def vulnerabilities(document: dict[str, Any]) -> list[Vulnerability]:
    """The advisories of a JSON API document, withdrawn ones dropped, aliases merged."""
    found: list[Vulnerability] = []
    seen: set[str] = set()
    for entry in document.get("vulnerabilities") or ():
        if entry.get("withdrawn"):
            continue
        vuln = Vulnerability(
            id=str(entry["id"]),
            aliases=tuple(str(a) for a in entry.get("aliases") or ()),
            fixed_in=tuple(str(v) for v in entry.get("fixed_in") or ()),
            link=str(entry.get("link") or f"https://osv.dev/vulnerability/{entry['id']}"),
        )
        if vuln.id in seen:  # PYSEC-x and GHSA-y naming each other are one advisory
            continue
        seen.update((vuln.id, *vuln.aliases))
        found.append(vuln)
    return found


def check(package: Package, index: str, timeout: float) -> Verdict:
    """Ask for the exact version, then fall back to the project document if it is the latest."""
    base = f"{index.rstrip('/')}/{canonical(package.name)}"
    try:
        exact = fetch(f"{base}/{package.version}/json", timeout)
        if exact is not None and "vulnerabilities" in exact:
            return Verdict(package, vulnerabilities(exact))
        project = fetch(f"{base}/json", timeout)
    except IndexUnreachable as exc:
        return Verdict(package, unchecked=str(exc))
    except (KeyError, TypeError, AttributeError):
        return Verdict(package, unchecked="the index answered an unexpected document")
    if project is None:
        return Verdict(package, unchecked="not found on the index")
    latest = str((project.get("info") or {}).get("version") or "")
    if not same_version(package.version, latest):
        return Verdict(
            package,
            unchecked=f"no advisory data for {package.version} and the latest release is "
            f"{latest or 'unknown'}: upgrade to {latest or 'it'} to check it",
        )
    try:
        return Verdict(package, vulnerabilities(project))
    except (KeyError, TypeError, AttributeError):
        return Verdict(package, unchecked="the index answered an unexpected document")


def describe(verdict: Verdict, ignored: set[str]) -> list[str]:
    """One line per problem: each vulnerability, or why the package is unchecked."""
    head = f"{verdict.package.name} {verdict.package.version}"
    if verdict.unchecked:
        return [f"{head}: UNCHECKED, {verdict.unchecked}"]
    lines = []
    for vuln in verdict.vulnerabilities:
        aliases = f" ({', '.join(vuln.aliases)})" if vuln.aliases else ""
        fixed = f"fixed in {', '.join(vuln.fixed_in)}" if vuln.fixed_in else "no fixed release"
        status = "ignored" if {vuln.id, *vuln.aliases} & ignored else "VULNERABLE"
        lines.append(f"{head}: {status} {vuln.id}{aliases}, {fixed}, {vuln.link}")
    return lines


def audit(packages: Iterable[Package], index: str, timeout: float, workers: int) -> list[Verdict]:
    """Every package's verdict, asked in parallel from a bounded pool."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: check(p, index, timeout), packages))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/audit",
        description="Check the venv's installed distributions for known vulnerabilities "
        "(PyPI's advisories). Exit 0: all checked, none vulnerable; 1: a known "
        "vulnerability; 2: some package could not be checked (strict by default: "
        "an unchecked package is not a pass; --no-strict makes it a warning).",
    )
    venv = os.environ.get("VENV", str(ROOT / ".venv"))
    parser.add_argument(
        "--python",
        default=str(Path(venv) / "bin" / "python"),
        help="the interpreter whose distributions are audited (default: $VENV/bin/python)",
    )
    parser.add_argument(
        "--path",
        action="append",
        default=[],
        help="audit only the distributions in this directory (repeatable)",
    )
    parser.add_argument(
        "--index", default=DEFAULT_INDEX, help=f"JSON API base URL (default {DEFAULT_INDEX})"
    )
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per request")
    parser.add_argument("--workers", type=int, default=8, help="parallel requests (default 8)")
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="ID",
        help="an advisory (or alias) reviewed and judged not to apply; say why in SECURITY.md",
    )
    parser.add_argument(
        "--no-strict",
        dest="strict",
        action="store_false",
        help="packages that cannot be checked are a warning (exit 0), not a failure (exit 2)",
    )
    args = parser.parse_args(argv)
    if args.workers < 1 or args.timeout <= 0:
        parser.error("--workers and --timeout must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ignored = set(args.ignore)
    verdicts = audit(installed(args.python, args.path), args.index, args.timeout, args.workers)
    for verdict in verdicts:
        for line in describe(verdict, ignored):
            print(line)
    checked = [v for v in verdicts if v.unchecked is None]
    found = [
        vuln
        for v in checked
        for vuln in v.vulnerabilities
        if not {vuln.id, *vuln.aliases} & ignored
    ]
    unchecked = len(verdicts) - len(checked)
    noun = "vulnerability" if len(found) == 1 else "vulnerabilities"
    summary = f"{len(checked)} packages checked, {len(found)} known {noun}"
    print(summary + (f", {unchecked} unchecked" if unchecked else ""))
    if found:
        return 1
    if unchecked and args.strict:
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
