"""Download the Metatone corpus (the anucc/metatone-analysis repository) and unpack it.

``gesture-rnn corpus download --to DIR`` ends with ``DIR/metadata/...`` and ``DIR/data/...``,
the layout :func:`gesture_rnn.corpus.load_corpus` reads. Nothing is half-done on failure:
the archive is downloaded and unpacked into a temporary folder beside DIR, checked, and
only then moved into place. Members that would land outside DIR (absolute paths, ``..``,
links) stop the whole unpacking with an error, before anything is written.
"""

from __future__ import annotations

import gzip
import http.client
import logging
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from tqdm import tqdm

from .corpus import METADATA_FILE, CorpusError

log = logging.getLogger(__name__)

DEFAULT_URL = "https://github.com/anucc/metatone-analysis/archive/refs/heads/master.zip"
TIMEOUT_SECONDS = 60
CHUNK_BYTES = 1 << 20
DOWNLOADED_NAME = "downloaded-archive"
# The corpus (about 320 files, 40 MB unpacked) with a wide margin: an archive that would
# unpack to more is refused before anything is written (a "zip bomb" fills no disk).
MAX_UNPACKED_BYTES = 1 << 30
MAX_MEMBERS = 100_000
FREE_SPACE_MARGIN = 64 << 20  # bytes left free on the disk after unpacking
MANUAL_HINT = "download the archive yourself (e.g. in a browser) and pass the file with --url PATH"


class DownloadError(CorpusError):
    """The corpus could not be fetched or unpacked; nothing was changed."""


def download_corpus(
    to: str | Path,
    url: str | None = None,
    force: bool = False,
    progress: bool = True,
    limit: int = MAX_UNPACKED_BYTES,
) -> Path:
    """Fetch the metatone-analysis archive from ``url`` and unpack it into ``to``.

    ``url`` is an http(s) URL, a ``file://`` URL or a local path to a .zip or .tar.gz
    (default: the repository's master branch on GitHub). ``force`` replaces a corpus
    already in ``to``; other files in ``to`` are kept. An archive larger than ``limit``
    bytes, or that would unpack to more (or to more than the disk has free), is refused
    before anything is written. Returns ``to``.
    """
    to = Path(to)
    url = url or DEFAULT_URL
    if to.exists() and not to.is_dir():
        raise DownloadError(f"cannot unpack the corpus into {to}: it is a file, not a folder")
    if (to / METADATA_FILE).is_file() and not force:
        raise DownloadError(
            f"{to} already holds a corpus ({METADATA_FILE} exists); add --force to replace it"
        )
    try:
        to.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{to.name}.download-", dir=to.parent))
    except OSError as error:
        raise DownloadError(
            f"cannot unpack the corpus next to {to}: {error.strerror or error}"
        ) from None
    try:
        local = _local_path(url)
        if local is not None:
            archive = local
        else:
            archive = staging / DOWNLOADED_NAME
            _fetch(url, archive, progress, limit)
        unpacked = staging / "unpacked"
        _unpack(archive, unpacked, limit)
        try:
            _install(unpacked, to, staging / "replaced", force)
        except OSError as error:
            raise DownloadError(
                f"cannot move the corpus into {to}: {error.strerror or error}"
            ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("corpus unpacked into %s", to)
    return to


def _local_path(url: str) -> Path | None:
    """The file ``url`` names if it is a local path or file:// URL, else None."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        path = Path(urllib.request.url2pathname(parts.path))
    elif parts.scheme in ("", *"abcdefghijklmnopqrstuvwxyz"):  # a path (or C:\ drive)
        path = Path(url)
    else:
        return None
    if not path.is_file():
        raise DownloadError(f"cannot read the archive {path}: no such file")
    return path


def _fetch(url: str, dest: Path, progress: bool, limit: int) -> None:
    """Stream ``url`` into ``dest`` with a progress bar on stderr."""
    log.info("downloading %s", url)
    request = urllib.request.Request(url, headers={"User-Agent": "gesture-rnn"})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise DownloadError(_network_message(url, error)) from None
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    received = 0
    with (
        response,
        dest.open("wb") as out,
        tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc="corpus",
            file=sys.stderr,
            disable=not progress,
        ) as bar,
    ):
        while True:
            try:
                chunk = response.read(CHUNK_BYTES)
            except (OSError, http.client.HTTPException) as error:
                raise DownloadError(_network_message(url, error)) from None
            if not chunk:
                break
            try:
                out.write(chunk)
            except OSError as error:
                raise DownloadError(f"cannot write {dest}: {error.strerror or error}") from None
            received += len(chunk)
            bar.update(len(chunk))
            if received > limit:
                raise DownloadError(
                    f"refusing {url}: it is larger than {_mib(limit)}, far more than the "
                    "corpus (about 40 MB)"
                )
    if total is not None and received != total:
        raise DownloadError(
            f"download of {url} stopped after {received} of {total} bytes; "
            f"try again, or {MANUAL_HINT}"
        )


def _network_message(url: str, error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        reason = f"HTTP {error.code} {error.reason}"
    elif isinstance(error, urllib.error.URLError):
        reason = str(error.reason)
    elif isinstance(error, TimeoutError):
        reason = f"no answer within {TIMEOUT_SECONDS} s"
    else:
        reason = str(error) or type(error).__name__
    return f"cannot download {url}: {reason}; {MANUAL_HINT}"


@dataclass(frozen=True)
class _Member:
    """One archive entry, reduced to what unpacking needs."""

    parts: tuple[str, ...]  # path components inside the archive
    is_dir: bool
    open: Callable[[], BinaryIO]  # the contents of a regular file
    size: int  # bytes it unpacks to, as the archive declares


# What reading a damaged archive raises (BadGzipFile is an OSError, so it comes first).
_DAMAGED = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


def _unpack(archive: Path, dest: Path, limit: int = MAX_UNPACKED_BYTES) -> None:
    """Unpack the corpus in ``archive`` into ``dest``, dropping its top-level folder.

    Every member, and the total size, is checked before the first file is written; the
    bytes written are counted too, in case an archive declares less than it holds.
    """
    try:
        with _open_archive(archive) as (kind, handle):
            if kind == "zip":
                members = [_zip_member(archive, handle, info) for info in handle.infolist()]
            else:
                members = [_tar_member(archive, handle, info) for info in handle.getmembers()]
            root = _corpus_root(archive, members)
            _check_size(archive, members, dest.parent, limit)
            dest.mkdir()
            count = written = 0
            for member in members:
                if member.parts[: len(root)] != root or len(member.parts) == len(root):
                    continue  # outside the repository folder (e.g. a stray top-level file)
                target = dest.joinpath(*member.parts[len(root) :])
                if member.is_dir:
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with member.open() as source, target.open("wb") as out:
                    while chunk := source.read(CHUNK_BYTES):
                        written += len(chunk)
                        if written > limit:
                            raise DownloadError(_too_big(archive, written, limit))
                        out.write(chunk)
                count += 1
    except _DAMAGED as error:
        raise DownloadError(f"{_shown(archive)} is a damaged archive: {error}") from None
    except OSError as error:
        raise DownloadError(
            f"cannot unpack {_shown(archive)} into {dest}: {error.strerror or error}"
        ) from None
    log.info("unpacked %d files from %s", count, _shown(archive))


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MiB"


def _too_big(archive: Path, size: int, limit: int) -> str:
    return (
        f"refusing to unpack {_shown(archive)}: it unpacks to more than {_mib(limit)} "
        f"({_mib(size)} or more), far more than the corpus (about 40 MB)"
    )


def _check_size(archive: Path, members: list[_Member], folder: Path, limit: int) -> None:
    """Refuse an archive that would unpack to more than ``limit`` bytes or too many files,
    or more than ``folder``'s disk has free."""
    if len(members) > MAX_MEMBERS:
        raise DownloadError(
            f"refusing to unpack {_shown(archive)}: it holds {len(members):,} entries, "
            f"more than the {MAX_MEMBERS:,} a corpus may have (it has about 320 files)"
        )
    total = sum(m.size for m in members)
    if total > limit:
        raise DownloadError(_too_big(archive, total, limit))
    free = shutil.disk_usage(folder).free
    if total + FREE_SPACE_MARGIN > free:
        raise DownloadError(
            f"cannot unpack {_shown(archive)}: it needs {_mib(total)} and {folder} has "
            f"{_mib(free)} free"
        )


def _shown(archive: Path) -> str:
    """How error messages name the archive: the user's file, or 'the download'."""
    return "the download" if archive.name == DOWNLOADED_NAME else str(archive)


@contextmanager
def _open_archive(archive: Path) -> Iterator[tuple[str, zipfile.ZipFile | tarfile.TarFile]]:
    """The open archive, told apart by its contents rather than its name."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            yield "zip", zf
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            yield "tar", tf
    else:
        raise DownloadError(
            f"{_shown(archive)} is neither a zip nor a tar.gz archive; {MANUAL_HINT}"
        )


def _zip_member(archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Member:
    mode = info.external_attr >> 16
    if (mode & 0o170000) == 0o120000:
        raise DownloadError(f"refusing to unpack {archive}: {info.filename!r} is a link")
    parts = _safe_parts(archive, info.filename)
    return _Member(parts, info.is_dir(), lambda: zf.open(info), info.file_size)


def _tar_member(archive: Path, tf: tarfile.TarFile, info: tarfile.TarInfo) -> _Member:
    if info.issym() or info.islnk():
        raise DownloadError(
            f"refusing to unpack {archive}: {info.name!r} is a link to {info.linkname!r}"
        )
    if not (info.isfile() or info.isdir()):
        raise DownloadError(f"refusing to unpack {archive}: {info.name!r} is not a file")
    parts = _safe_parts(archive, info.name)

    def open_file() -> BinaryIO:
        source = tf.extractfile(info)
        assert source is not None  # a regular file always has contents
        return source

    return _Member(parts, info.isdir(), open_file, info.size)


def _safe_parts(archive: Path, name: str) -> tuple[str, ...]:
    """Path components of a member name that stays inside the folder it unpacks into."""
    text = name.replace("\\", "/")
    path = PurePosixPath(text)
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise DownloadError(f"refusing to unpack {archive}: {name!r} is an absolute path")
    parts = tuple(p for p in path.parts if p not in ("", "."))
    if ".." in parts:
        raise DownloadError(f"refusing to unpack {archive}: {name!r} points outside the folder")
    return parts  # empty for './', which unpacking skips


def _corpus_root(archive: Path, members: list[_Member]) -> tuple[str, ...]:
    """The folder holding ``metadata/`` in the archive: nothing, or one top-level folder."""
    wanted = METADATA_FILE.parts
    for member in members:
        n = len(member.parts) - len(wanted)
        if not member.is_dir and n in (0, 1) and member.parts[n:] == wanted:
            return member.parts[:n]
    raise DownloadError(
        f"{_shown(archive)} is not the metatone-analysis archive: "
        f"it has no {METADATA_FILE.as_posix()}"
    )


def _install(unpacked: Path, to: Path, replaced: Path, force: bool) -> None:
    """Move every top-level entry of ``unpacked`` into ``to``; undo it all on failure.

    Existing entries of the same name are set aside in ``replaced`` (only with ``force``)
    and deleted with it afterwards, so an interrupted install can be undone.
    """
    entries = sorted(unpacked.iterdir())
    clashes = [e.name for e in entries if (to / e.name).exists() or (to / e.name).is_symlink()]
    if clashes and not force:
        raise DownloadError(f"{to} already has {', '.join(clashes)}; add --force to replace them")
    created = not to.exists()
    to.mkdir(exist_ok=True)
    moved_old: list[str] = []
    moved_new: list[str] = []
    try:
        if clashes:
            replaced.mkdir()
            for name in clashes:
                (to / name).rename(replaced / name)
                moved_old.append(name)
        for entry in entries:
            entry.rename(to / entry.name)
            moved_new.append(entry.name)
    except BaseException:
        for name in moved_new:
            shutil.rmtree(to / name, ignore_errors=True)
            (to / name).unlink(missing_ok=True)
        for name in moved_old:
            (replaced / name).rename(to / name)
        if created:
            shutil.rmtree(to, ignore_errors=True)
        raise
