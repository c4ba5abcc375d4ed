"""A throwaway PostgreSQL cluster on loopback, for tests and benchmarks.

Debian's ``postgresql`` package gives the server binaries; ``initdb`` makes a
cluster in a temporary folder, ``pg_ctl`` starts it on a free port that only
127.0.0.1 can reach, and :meth:`Cluster.remove` stops it and deletes the
folder. PostgreSQL refuses to run as root, so under root the cluster belongs
to the ``postgres`` user the package creates. A missing PostgreSQL raises:
tests that need it fail, they never skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

#: The database every test store uses; the server's own is ``postgres``.
DATABASE = "widget"


def server_binaries() -> Path:
    """The folder of ``initdb``, ``pg_ctl`` and ``postgres``: the newest installed version."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3])
    )
    if not versions:
        raise RuntimeError(
            "PostgreSQL is missing: the tests need Debian's postgresql package "
            "(apt-get install postgresql; scripts/test installs it)"
        )
    return versions[-1].parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """One running cluster: its folder, port and the URL of its ``widget`` database."""

    root: Path
    port: int
    user: str | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://widget@127.0.0.1:{self.port}/{DATABASE}"

    def url_for(self, database: str) -> str:
        return f"postgresql://widget@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [str(server_binaries() / args[0]), *args[1:]],
            check=True,
            user=self.user,
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -h 127.0.0.1 -k {self.root} "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", "log", "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Stop and start again: every connection is cut, as in a failover."""
        self.stop()
        self.start()

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url_for("postgres"), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def terminate_connections(self, database: str = DATABASE) -> int:
        """Kill every backend serving ``database`` (``pg_terminate_backend``); how many."""
        import psycopg

        with psycopg.connect(self.url_for("postgres"), autocommit=True) as db:
            rows = db.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchall()
        return len(rows)

    def remove(self) -> None:
        with suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def create_cluster() -> Cluster:
    """initdb and start a cluster with a ``widget`` superuser and database."""
    user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="widget-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    root.chmod(0o700)
    cluster = Cluster(root, _free_port(), user)
    cluster._run(
        "initdb", "-D", str(cluster.data), "-U", "widget", "--auth=trust", "-E", "UTF8",
        "--no-locale", "--no-sync",
    )  # fmt: skip
    cluster.start()
    cluster.create_database(DATABASE)
    return cluster


@contextmanager
def running_cluster() -> Iterator[Cluster]:
    cluster = create_cluster()
    try:
        yield cluster
    finally:
        cluster.remove()
