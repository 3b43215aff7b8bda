"""PostgreSQL for the benchmarks: the server given by URL, or a private one that
``scripts/ci_postgres.sh`` starts and stops; each measurement in a schema of its own."""

from __future__ import annotations

import shlex
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import make_url, text

from crowdalpha.tournament.db import make_engine

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ci_postgres.sh"


@dataclass(frozen=True)
class Server:
    url: str
    postmaster_pid: int | None  # when this process started it (to count its CPU)


def _exports(stdout: str) -> dict[str, str]:
    """The ``export NAME=value`` lines that ``ci_postgres.sh start`` prints."""
    found = {}
    for line in stdout.splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            found[key] = shlex.split(value)[0]
    return found


@contextmanager
def postgres_server(url: str | None, *, port: int) -> Iterator[Server]:
    """``url``, or a private server on ``port`` (stopped afterwards)."""
    if url:
        yield Server(url, None)
        return
    proc = subprocess.run(["bash", str(SCRIPT), "start", "--no-install", "--port", str(port)],
                          capture_output=True, text=True, timeout=180, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"ci_postgres.sh start failed (exit {proc.returncode}):\n{proc.stderr}")
    exports = _exports(proc.stdout)
    folder = exports["CROWDALPHA_TEST_PG_DIR"]
    pid_file = Path(folder) / "data" / "postmaster.pid"
    try:
        yield Server(exports["CROWDALPHA_TEST_PG_URL"], int(pid_file.read_text().split()[0]))
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", folder], capture_output=True, timeout=120, check=False)


@contextmanager
def new_schema(url: str) -> Iterator[str]:
    """A URL whose search_path is a new, empty schema of ``url``'s database, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
