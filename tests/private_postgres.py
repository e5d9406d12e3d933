"""A throw-away PostgreSQL server of the test's own: password logins, optional TLS, a random port.

The shared local server trusts every local login and its configuration is not ours to
change; rotation and TLS tests need a server that checks passwords and serves a
certificate the test made. ``initdb`` runs in a temporary directory (as the ``postgres``
system user when the tests run as root, which PostgreSQL refuses to run as).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import skip_or_fail

SUPERUSER = "postgres"


def _bindir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivatePostgres:
    """One server: :meth:`start` it, connect with :meth:`url`, :meth:`stop` and :meth:`start` it again."""

    def __init__(self, directory: Path, *, tls: tuple[Path, Path] | None = None) -> None:
        bindir = _bindir()
        if bindir is None:
            skip_or_fail("PostgreSQL server binaries (initdb) not installed")
        self.bin = bindir
        self.directory = directory
        self.data = directory / "data"
        self.port = _free_port()
        self.password = secrets.token_urlsafe(12)
        self.tls = tls is not None
        self._user: list[str] = []
        if os.geteuid() == 0:
            self._user = ["runuser", "-u", SUPERUSER, "--"]
            directory.chmod(0o755)
        pwfile = directory / "pw"
        pwfile.write_text(self.password)
        self._own(directory, pwfile)
        self._run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8"
        )
        settings = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{directory}'",
            "fsync = off",
            "max_connections = 200",
        ]
        hba = ["local all all scram-sha-256", "host all all 127.0.0.1/32 scram-sha-256"]
        if tls is not None:
            cert, key = (shutil.copy(path, directory / path.name) for path in tls)
            self._own(Path(cert), Path(key))
            settings += ["ssl = on", f"ssl_cert_file = '{cert}'", f"ssl_key_file = '{key}'"]
            hba = ["local all all scram-sha-256", "hostssl all all 127.0.0.1/32 scram-sha-256"]
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n".join(settings) + "\n")
        (self.data / "pg_hba.conf").write_text("\n".join(hba) + "\n")

    def _own(self, *paths: Path) -> None:
        if self._user:
            entry = pwd.getpwnam(SUPERUSER)
            for path in paths:
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self._user, str(self.bin / program), *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.directory / "log"), "-w", "-t", "30", "start")

    def stop(self) -> None:
        """Stop the server (fast: open sessions are ended)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres", *, user: str = SUPERUSER, password: str | None = None) -> str:
        """A SQLAlchemy URL of ``database`` on this server (the superuser's, unless ``user``/``password``)."""
        return sa.URL.create(
            "postgresql+psycopg",
            username=user,
            password=self.password if password is None else password,
            host="127.0.0.1",
            port=self.port,
            database=database,
        ).render_as_string(hide_password=False)

    def create_database(self, name: str) -> str:
        """Create database ``name`` (as the superuser, over TLS when the server requires it); its URL."""
        engine = sa.create_engine(
            self.url(), isolation_level="AUTOCOMMIT", connect_args={"sslmode": "require"} if self.tls else {}
        )
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        return self.url(name)


@contextlib.contextmanager
def private_postgres(*, tls: tuple[Path, Path] | None = None) -> Iterator[PrivatePostgres]:
    """A started :class:`PrivatePostgres`, stopped and deleted at exit."""
    with tempfile.TemporaryDirectory(prefix="pg-") as directory:
        server = PrivatePostgres(Path(directory), tls=tls)
        server.start()
        try:
            yield server
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):
                server.stop()
