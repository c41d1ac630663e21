"""``gesture-rnn corpus download``: made-up archives served from files and a local HTTP server."""

from __future__ import annotations

import functools
import io
import socket
import subprocess
import sys
import tarfile
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from gesture_rnn.corpus import EVERYTHING, CorpusError, load_corpus
from gesture_rnn.download import download_corpus

REPO = Path(__file__).resolve().parent.parent
TOP = "metatone-analysis-master"
HEADER = (
    "time,filename,number_performers,length_seconds,performance_context,"
    "performance_type,instruments,touch_orientation,notes,video_location"
)
# Made-up performances: (name, context, type, gestures).
PERFORMANCES = [
    ("2031-01-01T10-00-00-made-up", "study", "improvisation", np.arange(24).reshape(8, 3) % 9),
    ("2031-01-02T10-00-00-made-up", "demonstration", "improvisation", np.full((5, 2), 4)),
    ("2031-01-03T10-00-00-made-up", "rehearsal", "composition", np.eye(6, 4, dtype=int) * 7),
]


def corpus_files() -> dict[str, bytes]:
    """Paths (below the archive's top folder) and contents of a tiny invented corpus."""
    files = {"README.md": b"made-up corpus for tests\n"}
    rows = [HEADER]
    for name, context, kind, gestures in PERFORMANCES:
        players = [f"player{i}" for i in range(gestures.shape[1])]
        rows.append(
            f"2031-01-01 10:00:00,{name},{len(players)},{len(gestures)}.0,{context},{kind},"
            "iPad,landscape,invented,"
        )
        lines = ["time," + ",".join(players)]
        lines += [
            f"2031-01-01 10:00:{s:02d}," + ",".join(map(str, g)) for s, g in enumerate(gestures)
        ]
        files[f"data/{name}-touches-posthoc-gestures.csv"] = "\n".join(lines).encode()
        files[f"data/{name}-touches.csv"] = b"time,device_id,x_pos,y_pos,velocity\n"
    files["metadata/metatone-performance-information.csv"] = ("\n".join(rows) + "\n").encode()
    return files


def make_zip(path: Path, files: dict[str, bytes], top: str = TOP) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{top}/", b"")
        for name, data in files.items():
            zf.writestr(f"{top}/{name}", data)
    return path


def make_tar(path: Path, files: dict[str, bytes], top: str = TOP, links=()) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in links:
            info = tarfile.TarInfo(f"{top}/{name}")
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return path


def assert_loads(root: Path) -> None:
    loaded = load_corpus(root, EVERYTHING)
    assert [p.name for p in loaded] == [p[0] for p in PERFORMANCES]
    for performance, (_, context, kind, gestures) in zip(loaded, PERFORMANCES, strict=True):
        np.testing.assert_array_equal(performance.gestures, gestures)
        assert (performance.context, performance.type) == (context, kind)
    # The default selection: improvisations that are not demonstrations.
    assert [p.name for p in load_corpus(root)] == [PERFORMANCES[0][0]]


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def archive(tmp_path) -> Path:
    return make_zip(tmp_path / "corpus.zip", corpus_files())


@pytest.fixture
def server(tmp_path):
    """A local HTTP server for tmp_path/served; /truncated promises more than it sends."""
    served = tmp_path / "served"
    served.mkdir()

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/truncated":
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.write(b"PK\x03\x04 only the start")
                self.close_connection = True
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=served))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gesture_rnn", "corpus", "download", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_unpacks_a_zip_in_the_corpus_layout_and_leaves_nothing_else(tmp_path, archive):
    dest = tmp_path / "corpus"
    before = sorted(tmp_path.iterdir())
    assert download_corpus(dest, url=str(archive), progress=False) == dest
    assert sorted(tmp_path.iterdir()) == sorted([*before, dest])  # no temporary folder left
    assert (dest / "metadata" / "metatone-performance-information.csv").is_file()
    assert not (dest / TOP).exists()  # the archive's top folder is stripped
    assert (dest / "README.md").read_bytes() == b"made-up corpus for tests\n"
    assert_loads(dest)


def test_unpacks_a_tar_gz_from_a_file_url(tmp_path):
    tar = make_tar(tmp_path / "corpus.tar.gz", corpus_files())
    dest = tmp_path / "nested" / "corpus"
    download_corpus(dest, url=tar.as_uri(), progress=False)
    assert_loads(dest)


def test_downloads_over_http_with_a_progress_bar(tmp_path, server, capsys):
    served, base = server
    make_zip(served / "master.zip", corpus_files())
    dest = tmp_path / "corpus"
    download_corpus(dest, url=f"{base}/master.zip", progress=True)
    assert_loads(dest)
    assert "100%" in capsys.readouterr().err  # tqdm knew the total from Content-Length


def test_cli_downloads_refuses_to_overwrite_and_forces(tmp_path, archive):
    dest = tmp_path / "corpus"
    done = run_cli("--to", str(dest), "--url", str(archive), "--quiet")
    assert done.returncode == 0, done.stderr
    assert f"corpus ready in {dest}" in done.stdout
    assert_loads(dest)

    # A user's own file in the folder, and a changed corpus file.
    (dest / "my-notes.txt").write_text("mine")
    metadata = dest / "metadata" / "metatone-performance-information.csv"
    metadata.write_text(HEADER + "\n")

    again = run_cli("--to", str(dest), "--url", str(archive), "--quiet")
    assert again.returncode == 1
    assert again.stderr.strip().count("\n") == 0  # one line, no traceback
    assert "already holds a corpus" in again.stderr and "--force" in again.stderr
    assert metadata.read_text() == HEADER + "\n"  # untouched

    forced = run_cli("--to", str(dest), "--url", str(archive), "--force", "--quiet")
    assert forced.returncode == 0, forced.stderr
    assert_loads(dest)
    assert (dest / "my-notes.txt").read_text() == "mine"  # only the corpus was replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "corpus.zip"]


def test_cli_reports_an_unreachable_url_in_one_line(tmp_path):
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/master.zip"
    done = run_cli("--to", str(tmp_path / "corpus"), "--url", url)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and url in errors[0] and "--url PATH" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_http_errors_and_truncated_downloads_leave_nothing(tmp_path, server):
    served, base = server
    dest = tmp_path / "corpus"
    with pytest.raises(CorpusError, match=r"cannot download .*/missing\.zip: HTTP 404"):
        download_corpus(dest, url=f"{base}/missing.zip", progress=False)
    with pytest.raises(CorpusError, match=r"stopped after \d+ of 100000 bytes|cannot download"):
        download_corpus(dest, url=f"{base}/truncated", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served"]


def test_missing_file_and_non_archive(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        download_corpus(tmp_path / "corpus", url=str(tmp_path / "nothing.zip"), progress=False)
    page = tmp_path / "page.zip"
    page.write_text("<html>not found</html>")
    with pytest.raises(CorpusError, match="neither a zip nor a tar.gz"):
        download_corpus(tmp_path / "corpus", url=str(page), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.zip"]


def test_archive_without_metadata_is_not_the_corpus(tmp_path):
    files = {k: v for k, v in corpus_files().items() if not k.startswith("metadata/")}
    other = make_zip(tmp_path / "other.zip", files)
    with pytest.raises(CorpusError, match="not the metatone-analysis archive"):
        download_corpus(tmp_path / "corpus", url=str(other), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.zip"]


@pytest.mark.parametrize(
    "bad_name, problem",
    [
        ("../escaped.txt", "points outside"),
        (f"{TOP}/data/../../../escaped.txt", "points outside"),
        ("/tmp/escaped.txt", "absolute path"),
    ],
)
def test_refuses_members_that_escape_the_folder(tmp_path, bad_name, problem):
    zip_path = make_zip(tmp_path / "evil.zip", corpus_files())
    with zipfile.ZipFile(zip_path, "a") as zf:
        zf.writestr(bad_name, b"should never be written")
    dest = tmp_path / "work" / "corpus"
    with pytest.raises(CorpusError, match=problem):
        download_corpus(dest, url=str(zip_path), progress=False)
    assert (
        not (tmp_path / "escaped.txt").exists() and not (tmp_path / "work" / "escaped.txt").exists()
    )
    assert listing(tmp_path / "work") == []  # nothing unpacked, no temporary folder left


def test_refuses_links(tmp_path):
    tar = make_tar(tmp_path / "evil.tar.gz", corpus_files(), links=[("data/link", "/etc/passwd")])
    with pytest.raises(CorpusError, match="is a link"):
        download_corpus(tmp_path / "corpus", url=str(tar), progress=False)
    assert not (tmp_path / "corpus").exists()


def test_existing_corpus_needs_force(tmp_path, archive):
    dest = tmp_path / "corpus"
    download_corpus(dest, url=str(archive), progress=False)
    with pytest.raises(CorpusError, match="already holds a corpus.*--force"):
        download_corpus(dest, url=str(archive), progress=False)
    # A folder with a clashing entry but no corpus is not overwritten silently either.
    other = tmp_path / "other"
    (other / "data").mkdir(parents=True)
    (other / "data" / "mine.csv").write_text("mine")
    with pytest.raises(CorpusError, match="already has data.*--force"):
        download_corpus(other, url=str(archive), progress=False)
    assert listing(other) == ["data", "data/mine.csv"]


# -- archives that unpack to far more than a corpus ("zip bombs") ---------------------------


def make_zip_bomb(path: Path, size: int) -> Path:
    """A real corpus archive plus one file of ``size`` zero bytes, deflated to ~1/1000."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in corpus_files().items():
            zf.writestr(f"{TOP}/{name}", data)
        info = zipfile.ZipInfo(f"{TOP}/data/zeros.bin")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as out:
            chunk = bytes(1 << 24)
            for _ in range(size // len(chunk)):
                out.write(chunk)
    return path


def test_cli_refuses_an_archive_that_unpacks_past_the_cap_leaving_nothing(tmp_path):
    from gesture_rnn.download import MAX_UNPACKED_BYTES

    bomb = make_zip_bomb(tmp_path / "bomb.zip", MAX_UNPACKED_BYTES + (64 << 20))
    assert bomb.stat().st_size < 4 << 20  # a few MB that would unpack past 1 GiB
    dest = tmp_path / "corpus"
    result = run_cli("--to", str(dest), "--url", str(bomb), "--quiet")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to unpack" in lines[0] and "MiB" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.zip"]


def test_a_tar_bomb_is_refused_by_its_declared_size(tmp_path):
    files = corpus_files()
    files["data/zeros.bin"] = bytes(8 << 20)
    bomb = make_tar(tmp_path / "bomb.tar.gz", files)
    dest = tmp_path / "corpus"
    with pytest.raises(CorpusError, match="unpacks to more than 4 MiB"):
        download_corpus(dest, url=str(bomb), limit=4 << 20)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.tar.gz"]
    download_corpus(dest, url=str(bomb), limit=16 << 20)  # under the cap it unpacks
    assert (dest / "data" / "zeros.bin").stat().st_size == 8 << 20


def test_a_download_larger_than_the_cap_is_stopped(tmp_path, server):
    served, base = server
    make_zip(served / "master.zip", {**corpus_files(), "big.bin": np.random.bytes(3 << 20)})
    with pytest.raises(CorpusError, match="larger than 2 MiB"):
        download_corpus(tmp_path / "corpus", url=f"{base}/master.zip", limit=2 << 20)
    assert not (tmp_path / "corpus").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["served"]
