"""A private, throwaway PostgreSQL cluster for tests and benchmarks (Debian's postgresql 15).

`initdb` + `pg_ctl` in a temporary folder on a free loopback port, trust authentication, torn
down with `stop()`. PostgreSQL refuses to run as root, so when we are root the binaries run as the
``postgres`` user through ``runuser`` and the folder is handed to that user. Raises
`PgUnavailable` (never skips) when the binaries or the user are missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from ivr.errors import HotlineError


class PgUnavailable(HotlineError):
    """PostgreSQL cannot be started here (binaries or the postgres user missing, start failed)."""


def find_bindir() -> Path:
    env = os.environ.get("HOTLINE_PG_BINDIR")
    candidates = [env] if env else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for c in candidates:
        if c and (Path(c) / "initdb").exists():
            return Path(c)
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise PgUnavailable("initdb not found: install postgresql (apt-get install postgresql)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    def __init__(self, bindir: Path | None = None, *, durable: bool = False) -> None:
        self.bindir = bindir or find_bindir()
        # durable: PostgreSQL's own defaults (fsync, synchronous commit), as in production
        self.durable = durable
        self.port = 0
        self._tmp: Path | None = None
        self._run_as: list[str] = []

    @property
    def datadir(self) -> Path:
        if self._tmp is None:
            raise PgUnavailable("cluster not started")
        return self._tmp / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        cmd = [*self._run_as, *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise PgUnavailable(f"{Path(args[0]).name} failed: {proc.stderr.strip()[-2000:]}")

    def start(self) -> str:
        """Create and start the cluster; returns the URL of its ``postgres`` database."""
        self._tmp = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PgUnavailable("running as root and there is no postgres user") from exc
            os.chown(self._tmp, pw.pw_uid, pw.pw_gid)
            runuser = shutil.which("runuser")
            if runuser is None:
                raise PgUnavailable("runuser not found")
            self._run_as = [runuser, "-u", "postgres", "--"]
        self.port = free_port()
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        self._pg_ctl("start")
        return self.url()

    def _pg_ctl(self, action: str) -> None:
        if self._tmp is None:
            raise PgUnavailable("cluster not started")
        opts = f"-p {self.port} -k {self._tmp} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.durable:
            # a throwaway cluster: speed matters more than surviving a power cut
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-o",
            opts,
            "-l",
            str(self._tmp / "server.log"),
            "-m",
            "fast",
            "-w",
            "-t",
            "60",
            action,
        )

    def restart(self) -> None:
        """Stop and start the server (clients' connections are cut), same port and data."""
        self._pg_ctl("restart")

    def stop(self) -> None:
        if self._tmp is None:
            return
        try:
            if self.datadir.exists():
                self._run(
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                )
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
