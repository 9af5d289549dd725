"""A throwaway PostgreSQL server for tests and `make postgres-test`: no Docker, Debian's packages.

`postgres_server()` finds the server binaries (under /usr/lib/postgresql/<version>/bin; as root
it installs Debian's `postgresql` package with apt-get when they are missing), makes a cluster
in a new temporary folder with `initdb` (trust authentication, so no password), starts it with
`pg_ctl` on 127.0.0.1 and a free port, creates the database `firewatch`, and on exit stops it
and deletes the folder. The server refuses to run as root: as root it runs as the system user
`firewatch-pg` (created with `useradd` when missing) through `runuser`. Durability is switched
off (fsync, synchronous commits): the data lives for one test run.

`python -m tests.support.postgres` starts one and prints the FIREWATCH_PG_* variables that point
dbt's `postgres` target at it, until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dagster_project.warehouse.target import PostgresConfig

SERVER_USER = "firewatch-pg"  # the system user the server runs as when we are root
DATABASE = "firewatch"
SUPERUSER = "firewatch"  # the cluster's superuser (initdb -U), who owns DATABASE
PG_ROOT = Path("/usr/lib/postgresql")
# The cluster is thrown away after the run: durability costs time and buys nothing.
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries here, and no way to install them."""


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    database: str
    data_dir: Path
    # seconds per step: install (0 when already installed), initdb, start, createdb
    timings: dict[str, float] = field(default_factory=dict)

    def dbt_env(self) -> dict[str, str]:
        """The environment dbt's `postgres` target (dbt_project/profiles.yml) reads."""
        return {
            "FIREWATCH_PG_HOST": self.host,
            "FIREWATCH_PG_PORT": str(self.port),
            "FIREWATCH_PG_USER": self.user,
            "FIREWATCH_PG_PASSWORD": "",
            "FIREWATCH_PG_DATABASE": self.database,
            "FIREWATCH_PG_SCHEMA": "public",
        }

    def config(self) -> PostgresConfig:
        """The project's own description of this server (what FIREWATCH_PG_* would say)."""
        return PostgresConfig(
            host=self.host, port=self.port, user=self.user, database=self.database
        )

    def connect(self, database: str | None = None):  # -> psycopg2 connection
        import psycopg2

        return psycopg2.connect(
            host=self.host, port=self.port, user=self.user, dbname=database or self.database
        )


def server_binaries(install: bool = True) -> tuple[Path, float]:
    """The folder holding initdb and pg_ctl (the newest version installed), and the seconds an
    install took (0.0 when none was needed)."""
    found = _newest_bin_dir()
    if found is not None:
        return found, 0.0
    if not install or os.geteuid() != 0:
        raise PostgresUnavailable(
            "no PostgreSQL server binaries under /usr/lib/postgresql: "
            "`sudo apt-get install -y postgresql` (Debian/Ubuntu)"
        )
    started = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    found = _newest_bin_dir()
    if found is None:
        raise PostgresUnavailable("apt-get installed postgresql but no initdb/pg_ctl was found")
    return found, time.monotonic() - started


def _newest_bin_dir() -> Path | None:
    candidates = [
        path.parent
        for path in PG_ROOT.glob("*/bin/pg_ctl")
        if path.parent.name == "bin" and (path.parent / "initdb").exists()
    ]
    numeric = [c for c in candidates if c.parent.name.isdigit()]
    return max(numeric, key=lambda c: int(c.parent.name)) if numeric else None


def _server_user() -> list[str]:
    """The command prefix that runs a program as the server's user: empty unless we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             SERVER_USER],
            check=True, capture_output=True,
        )  # fmt: skip
    return ["runuser", "-u", SERVER_USER, "--"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited {result.returncode}:\n{result.stdout[-2000:]}"
            f"{result.stderr[-2000:]}"
        )


@contextlib.contextmanager
def postgres_server(install: bool = True) -> Iterator[PostgresServer]:
    """A fresh PostgreSQL cluster with an empty database `firewatch`, stopped and deleted on
    exit. Raises PostgresUnavailable when the binaries are missing and cannot be installed."""
    bin_dir, install_seconds = server_binaries(install)
    as_server = _server_user()
    # under /tmp itself, not pytest's private temp folder: the server's user must reach it
    folder = Path(tempfile.mkdtemp(prefix="firewatch-pg-"))
    data_dir, log = folder / "data", folder / "server.log"
    if as_server:
        shutil.chown(folder, user=SERVER_USER)
    timings = {"install": install_seconds}
    started = time.monotonic()
    try:
        _run(
            [*as_server, str(bin_dir / "initdb"), "-D", str(data_dir), "-U", SUPERUSER,
             "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"],
            folder,
        )  # fmt: skip
        timings["initdb"] = time.monotonic() - started
        server = None
        for _attempt in range(3):  # another process may take the free port before we do
            port = _free_port()
            options = " ".join(
                f"-c {name}={value}"
                for name, value in {
                    **SERVER_SETTINGS, "port": port, "unix_socket_directories": folder
                }.items()
            )  # fmt: skip
            started = time.monotonic()
            try:
                _run(
                    [*as_server, str(bin_dir / "pg_ctl"), "start", "-D", str(data_dir), "-w",
                     "-t", "60", "-l", str(log), "-o", options],
                    folder,
                )  # fmt: skip
            except RuntimeError as error:
                text = log.read_text(errors="replace") if log.exists() else ""
                if "could not bind" in text or "already in use" in text:
                    continue
                raise RuntimeError(f"{error}\nserver log:\n{text[-3000:]}") from None
            timings["start"] = time.monotonic() - started
            server = PostgresServer("127.0.0.1", port, SUPERUSER, DATABASE, data_dir, timings)
            break
        if server is None:
            raise RuntimeError("PostgreSQL found no free port in 3 attempts")
        try:
            started = time.monotonic()
            admin = server.connect("postgres")
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute(f'create database "{DATABASE}"')
            admin.close()
            timings["createdb"] = time.monotonic() - started
            yield server
        finally:
            subprocess.run(
                [*as_server, str(bin_dir / "pg_ctl"), "stop", "-D", str(data_dir),
                 "-m", "immediate", "-w"],
                cwd=folder, capture_output=True,
            )  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """With `--run COMMAND`: start a server, run the shell command with FIREWATCH_TARGET and
    the FIREWATCH_PG_* variables pointing at it, stop the server; exit with the command's
    status. Without: start one and wait for Ctrl-C."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m tests.support.postgres")
    parser.add_argument("--run", help="a shell command to run against the server, then stop")
    args = parser.parse_args(argv)
    if args.run:
        with postgres_server() as server:
            env = {**os.environ, **server.dbt_env(), "FIREWATCH_TARGET": "postgres"}
            print(f"PostgreSQL up on 127.0.0.1:{server.port}; running: {args.run}", flush=True)
            status = subprocess.run(["bash", "-c", args.run], env=env).returncode
        print("PostgreSQL stopped and its data deleted.", file=sys.stderr)
        return status
    with postgres_server() as server:
        steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in server.timings.items())
        print(f"PostgreSQL up ({steps}); data in {server.data_dir}. Point dbt at it with:")
        for name, value in server.dbt_env().items():
            print(f"  export {name}={value}")
        print("Ctrl-C stops it and deletes its data.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
