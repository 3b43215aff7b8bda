"""The built wheel is a whole server: installed without the source tree, it serves its pages.

The wheel is built from a copy of the repository's ``pyproject.toml``, ``README.md`` and
``src`` (so the build leaves no ``build/`` folder in the repository and no stale files of
an earlier build end up in it), with the ``setuptools`` and ``wheel`` of the test extra.

It is installed (``--no-deps``) into a fresh virtual environment whose dependencies come
from the test environment's site-packages through a ``.pth`` path line: a path line only
appends the folder to ``sys.path``, the ``.pth`` files inside it (among them the editable
install's finder, which would import ``src/crowdalpha``) are not processed. Every command
of the fresh environment runs in a temporary folder, without ``PYTHONPATH``, and the test
checks that ``crowdalpha`` is imported from the fresh environment.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "crowdalpha"
BIN = "Scripts" if os.name == "nt" else "bin"
#: Top-level files a build may read besides pyproject.toml, README.md and src/.
LICENSE_GLOBS = ("LICEN[CS]E*", "COPYING*", "NOTICE*", "AUTHORS*")
#: Files of the source tree that are never part of the package.
NOT_SHIPPED = ("__pycache__", "*.pyc", "*.pyo", ".*")
START_TIMEOUT = 60.0


def _run(args: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert done.returncode == 0, (f"{args} failed ({done.returncode}):\n"
                                  f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment minus anything that could import the source tree or pick a home."""
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV",
            "__PYVENV_LAUNCHER__"}
    env = {k: v for k, v in os.environ.items()
           if k not in drop and not k.startswith("CROWDALPHA_")}
    env["PYTHONNOUSERSITE"] = "1"
    env.update(extra)
    return env


def _package_files() -> set[str]:
    """The source tree's package files, as paths inside the wheel (``crowdalpha/...``)."""
    files = set()
    for path in PACKAGE.rglob("*"):
        rel = path.relative_to(PACKAGE.parent)
        skipped = any(fnmatch(part, p) for part in rel.parts for p in NOT_SHIPPED)
        if path.is_file() and not skipped:
            files.add(rel.as_posix())
    return files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the working tree."""
    root = tmp_path_factory.mktemp("wheel-build")
    tree = root / "tree"
    tree.mkdir()
    shutil.copy2(REPO / "pyproject.toml", tree)
    shutil.copy2(REPO / "README.md", tree)
    for pattern in LICENSE_GLOBS:
        for extra in REPO.glob(pattern):
            shutil.copy2(extra, tree)
    shutil.copytree(REPO / "src", tree / "src",
                    ignore=shutil.ignore_patterns(*NOT_SHIPPED, "*.egg-info"))
    dist = root / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-cache-dir", "--disable-pip-version-check", "-w", dist, tree],
         cwd=root, env=_clean_env())
    (built,) = dist.glob("crowdalpha-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment holding only the wheel; its dependencies are the test env's."""
    root = tmp_path_factory.mktemp("fresh")
    venv = root / "venv"
    env = _clean_env()
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=root, env=env)
    python = venv / BIN / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
          "--no-cache-dir", "--disable-pip-version-check", wheel], cwd=root, env=env)
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                cwd=root, env=env).stdout.strip()
    deps = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (Path(site) / "_crowdalpha_test_deps.pth").write_text("".join(f"{d}\n" for d in deps))
    return venv


def test_the_wheel_holds_every_package_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points,) = (n for n in names if n.endswith(".dist-info/entry_points.txt"))
        scripts = archive.read(entry_points).decode()
    for needed in ("crowdalpha/py.typed",
                   "crowdalpha/api/graphql/schema.graphql",
                   "crowdalpha/web/templates/base.html",
                   "crowdalpha/web/templates/home.html",
                   "crowdalpha/web/templates/not_found.html",
                   "crowdalpha/web/static/style.css",
                   "crowdalpha/tournament/migrations/env.py",
                   "crowdalpha/tournament/migrations/versions/0001_accounts_models_ledger.py",
                   "crowdalpha/server/app.py",
                   "crowdalpha/cli.py"):
        assert needed in names, f"{needed} is not in {wheel.name}"
    missing = _package_files() - names
    assert not missing, f"files of src/crowdalpha not in {wheel.name}: {sorted(missing)}"
    assert "crowdalpha = crowdalpha.cli:main" in scripts


def test_the_fresh_venv_imports_the_installed_wheel(fresh_venv: Path, tmp_path: Path) -> None:
    probe = ("import crowdalpha, crowdalpha.web.rendering as r, crowdalpha.tournament.db as d; "
             "print(crowdalpha.__file__); print(r.HERE); print(d.MIGRATIONS_DIR)")
    out = _run([fresh_venv / BIN / "python", "-c", probe], cwd=tmp_path, env=_clean_env())
    for line in out.stdout.split():
        where = Path(line).resolve()
        assert where.is_relative_to(fresh_venv.resolve()), f"{where} is not in {fresh_venv}"
        assert not where.is_relative_to(REPO / "src"), f"{where} comes from the source tree"


@dataclass
class Served:
    url: str
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(fresh_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``crowdalpha serve`` of the fresh environment on a new home (serve migrates it)."""
    root = tmp_path_factory.mktemp("serve")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(fresh_venv / BIN / "crowdalpha"), "--home", str(root / "home"), "serve",
             "--port", str(port)],
            cwd=root, env=_clean_env(), stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited ({process.returncode}):\n{log.read_text()}")
            try:
                httpx.get(f"{url}/", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not answer in {START_TIMEOUT:.0f} s:\n"
                                f"{log.read_text()}")
                time.sleep(0.2)
        yield Served(url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_installed_server_serves_the_home_page(served: Served) -> None:
    page = httpx.get(f"{served.url}/", timeout=10)
    assert page.status_code == 200, page.text[:2000] + served.log.read_text()[-4000:]
    assert page.headers["content-type"].startswith("text/html")
    assert '<a class="brand" href="/">crowdalpha</a>' in page.text  # base.html
    assert "<h1>crowdalpha</h1>" in page.text  # home.html
    assert 'href="/static/style.css"' in page.text


def test_the_installed_server_serves_static_files(served: Served) -> None:
    style = httpx.get(f"{served.url}/static/style.css", timeout=10)
    assert style.status_code == 200, served.log.read_text()[-4000:]
    assert style.headers["content-type"].startswith("text/css")
    assert style.content == (PACKAGE / "web" / "static" / "style.css").read_bytes()
    plotly = httpx.get(f"{served.url}/static-vendor/plotly.min.js", timeout=10)
    assert plotly.status_code == 200, served.log.read_text()[-4000:]
    assert len(plotly.content) > 100_000


def test_the_installed_server_renders_its_not_found_page(served: Served) -> None:
    page = httpx.get(f"{served.url}/no-such-page", headers={"accept": "text/html"}, timeout=10)
    assert page.status_code == 404, page.text[:2000] + served.log.read_text()[-4000:]
    assert page.headers["content-type"].startswith("text/html")
    assert '<a class="brand" href="/">crowdalpha</a>' in page.text


def test_the_installed_server_answers_graphql(served: Served) -> None:
    answer = httpx.post(f"{served.url}/graphql",
                        json={"query": "{ rounds(tournament: 8) { number } }"}, timeout=10)
    assert answer.status_code == 200, answer.text[:2000] + served.log.read_text()[-4000:]
    body = answer.json()
    assert "errors" not in body, body
    assert body["data"] == {"rounds": []}
