"""File routes behind signed URLs: downloads (GET/HEAD with HTTP Range) and uploads (PUT).

Downloads serve dataset files from ``HOME/datasets`` (``/files/datasets/...``)
and stored files such as submissions and round archives from the file store
(``/files/store/...``), through fsspec: a local folder or any S3-compatible
store. Uploads land in the store under ``uploads/<account>/<token>-<name>``,
where ``create_submission`` or ``createDiagnostics`` picks them up; a refused
upload leaves a ``.rejected`` note saying why, so the next call can tell the user.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import fsspec
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from crowdalpha.server import signing
from crowdalpha.server.errors import RangeNotSatisfiableError, status_code
from crowdalpha.server.services import Services
from crowdalpha.server.settings import ServerSettings
from crowdalpha.tournament import store as file_store
from crowdalpha.tournament.store import Store

CHUNK = 1024 * 1024
UPLOADS = "uploads"
REJECTED_SUFFIX = ".rejected"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class FileSource:
    """Where one URL prefix's files live: an fsspec filesystem and a root inside it."""

    fs: fsspec.AbstractFileSystem
    root: str

    def path(self, relative: str) -> str:
        return f"{self.root.rstrip('/')}/{relative}"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def _raw_path(request: Request) -> str:
    raw = request.scope.get("raw_path")
    return raw.decode("latin-1") if raw else request.url.path


def _check_signature(request: Request, settings: ServerSettings) -> JSONResponse | None:
    """A 403 answer unless the URL is signed and not yet expired on the server's clock."""
    services: Services = request.app.state.services
    try:
        signing.verify(
            settings, request.method, _raw_path(request),
            request.query_params.get("expires"), request.query_params.get("signature"),
            now=services.clock.now().timestamp(),
        )
    except signing.SignatureError as error:
        return _error(status_code(error), str(error))
    return None


def _safe(relative: str) -> bool:
    parts = relative.split("/")
    return bool(relative) and all(p not in ("", ".", "..") for p in parts) and "\\" not in relative


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` inclusive for a single ``bytes=`` range; None for the whole file.

    Raises ``RangeNotSatisfiableError`` (416) for a range the file cannot satisfy.
    """
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        raise RangeNotSatisfiableError(
            f"Range {header[:40]!r} is not a single 'bytes=start-end' range"
        )
    first, last = match.groups()
    if first == "":  # the last N bytes
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiableError("Range asks for the last 0 bytes")
        return max(size - length, 0), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or end < start:
        raise RangeNotSatisfiableError(f"Range {header[:40]!r} is outside the file's {size} bytes")
    return start, end


def _read_chunks(fs: fsspec.AbstractFileSystem, path: str, start: int, length: int) -> Iterator[bytes]:
    with fs.open(path, "rb") as f:
        f.seek(start)
        left = length
        while left > 0:
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk


def _sources(request: Request) -> dict[str, FileSource]:
    return request.app.state.file_sources


@router.api_route("/files/{kind}/{relative:path}", methods=["GET", "HEAD"])
async def download(kind: str, relative: str, request: Request) -> Response:
    """A dataset or stored file, whole or one byte range (206), behind a signed URL."""
    settings: ServerSettings = request.app.state.settings
    refused = _check_signature(request, settings)
    if refused is not None:
        return refused
    source = _sources(request).get(kind)
    if source is None or not _safe(relative) or relative.startswith(f"{UPLOADS}/"):
        return _error(404, f"no file '{kind}/{relative}'")
    path = source.path(relative)
    try:
        info = await run_in_threadpool(source.fs.info, path)
    except FileNotFoundError:
        return _error(404, f"no file '{kind}/{relative}'")
    if info.get("type") != "file":
        return _error(404, f"'{kind}/{relative}' is not a file")
    size = int(info["size"])
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="{relative.rsplit("/", 1)[-1]}"',
    }
    try:
        chosen = parse_range(request.headers.get("range"), size)
    except RangeNotSatisfiableError as error:
        return Response(
            str(error), status_code=status_code(error), headers={"Content-Range": f"bytes */{size}"}
        )
    start, end = (0, size - 1) if chosen is None else chosen
    length = max(end - start + 1, 0)
    headers["Content-Length"] = str(length)
    status = 200
    if chosen is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    media = "application/octet-stream"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media)
    return StreamingResponse(
        _read_chunks(source.fs, path, start, length), status_code=status, headers=headers,
        media_type=media,
    )


def rejected_note(store: Store, relative: str) -> str | None:
    """Why the upload at ``relative`` was refused, if it was."""
    fs = store[0]
    note = file_store.full_path(store, upload_relative(f"{relative}{REJECTED_SUFFIX}"))
    try:
        with fs.open(note, "rb") as f:
            return f.read().decode()
    except FileNotFoundError:
        return None


def _reject(store: Store, relative: str, status: int, message: str) -> JSONResponse:
    file_store.write_bytes(store, upload_relative(f"{relative}{REJECTED_SUFFIX}"), message.encode())
    return _error(status, message)


@router.put("/uploads/{relative:path}")
async def upload(relative: str, request: Request) -> Response:
    """Receive an upload behind a signed PUT URL, refusing more than the size cap."""
    settings: ServerSettings = request.app.state.settings
    store: Store = request.app.state.store
    refused = _check_signature(request, settings)
    if refused is not None:
        return refused
    if not _safe(relative) or relative.endswith(REJECTED_SUFFIX):
        return _error(404, f"no upload slot '{relative}'")
    cap = settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        message = f"file is {int(declared)} bytes, over the upload limit of {cap} bytes"
        return await run_in_threadpool(_reject, store, relative, 413, message)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > cap:
            message = f"file is over the upload limit of {cap} bytes"
            return await run_in_threadpool(_reject, store, relative, 413, message)
    await run_in_threadpool(file_store.write_bytes, store, upload_relative(relative), bytes(body))
    return JSONResponse({"uploaded": relative, "bytes": len(body)})


def upload_relative(slot: str) -> str:
    """Where the upload to ``slot`` lies in the store."""
    return f"{UPLOADS}/{slot}"


def read_upload(store: Store, slot: str) -> bytes | None:
    """The bytes uploaded to ``slot``, or None if nothing arrived."""
    try:
        with store[0].open(file_store.full_path(store, upload_relative(slot)), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def remove_upload(store: Store, slot: str) -> None:
    """Forget an upload once it has been taken (or refused)."""
    for name in (slot, f"{slot}{REJECTED_SUFFIX}"):
        file_store.remove(store, upload_relative(name))
