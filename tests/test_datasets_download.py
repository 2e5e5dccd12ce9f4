"""Data home look-up and downloads, against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import threading
from functools import partial
from pathlib import Path

import pandas as pd
import pytest

from gbmtl.datasets import _base
from gbmtl.datasets._base import (
    ChecksumError,
    DownloadError,
    RemoteFileSpec,
    fetch_file,
    get_data_home,
)
from gbmtl.datasets._loaders import load_lending_club

CSV = b"a,b\n1,x\n2,y\n3,z\n"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def server(tmp_path):
    """Serve ``tmp_path / "remote"`` on a free port; yields (folder, base URL)."""
    root = tmp_path / "remote"
    root.mkdir()
    handler = partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def register(monkeypatch):
    """Add a remote file spec under a test key for the duration of one test."""

    def _register(name: str, spec: RemoteFileSpec) -> None:
        monkeypatch.setitem(_base.REMOTE_FILES, name, spec)

    return _register


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


# --- look-up order -------------------------------------------------------------------------


def test_data_home_argument_beats_env(monkeypatch, tmp_path):
    monkeypatch.setenv("GBMTL_DATA_HOME", str(tmp_path / "env"))
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"


def test_data_home_env_beats_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("GBMTL_DATA_HOME", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert get_data_home() == tmp_path / "env"


def test_data_home_falls_back_to_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("GBMTL_DATA_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert get_data_home() == tmp_path / "cache" / "gbmtl"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_data_home() == tmp_path / "home" / ".cache" / "gbmtl"
    assert not (tmp_path / "home").exists()  # looking up creates nothing


def test_data_home_expands_user(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home("~/data") == tmp_path / "data"


def test_existing_file_is_used_without_network(register, tmp_path):
    register("toy", RemoteFileSpec("toy", "toy.csv.gz", ("http://127.0.0.1:9/none",), _md5(CSV)))
    path = tmp_path / "toy" / "toy.csv.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(CSV))
    assert fetch_file("toy", data_home=tmp_path) == path


def test_missing_file_without_download_names_path_and_env(register, tmp_path):
    register("toy", RemoteFileSpec("toy", "toy.csv.gz", ("http://127.0.0.1:9/none",)))
    with pytest.raises(FileNotFoundError) as info:
        fetch_file("toy", data_home=tmp_path, download_if_missing=False)
    message = str(info.value)
    assert str(tmp_path / "toy" / "toy.csv.gz") in message and "GBMTL_DATA_HOME" in message


def test_unknown_name():
    with pytest.raises(KeyError, match="unknown data file"):
        fetch_file("no_such_data_set")


# --- downloads -----------------------------------------------------------------------------


def test_download_writes_gzip_in_layout(server, register, tmp_path):
    root, url = server
    (root / "toy.csv").write_bytes(CSV)
    register("toy", RemoteFileSpec("toy_folder", "toy.csv.gz", (f"{url}/toy.csv",), _md5(CSV)))
    home = tmp_path / "home"
    path = fetch_file("toy", data_home=home)
    assert path == home / "toy_folder" / "toy.csv.gz"
    assert gzip.decompress(path.read_bytes()) == CSV
    assert _leftovers(home) == [path]
    assert fetch_file("toy", data_home=home) == path  # second call: no download needed


def test_download_gzip_source_with_added_header(server, register, tmp_path):
    root, url = server
    body = b"1,x\n2,y\n"
    (root / "raw.gz").write_bytes(gzip.compress(body))
    expected = b"a,b\n" + body
    register(
        "toy", RemoteFileSpec("t", "t.csv.gz", (f"{url}/raw.gz",), _md5(expected), header="a,b")
    )
    path = fetch_file("toy", data_home=tmp_path / "home")
    assert gzip.decompress(path.read_bytes()) == expected


def test_download_joins_parts_under_one_header(server, register, tmp_path):
    root, url = server
    (root / "p1.csv").write_bytes(b"a,b\n1,x\n")
    (root / "p2.csv").write_bytes(b"a,b\n2,y")  # no final newline
    (root / "p3.csv").write_bytes(b"a,b\n3,z\n")
    urls = tuple(f"{url}/p{i}.csv" for i in (1, 2, 3))
    register("toy", RemoteFileSpec("t", "t.csv.gz", urls, _md5(CSV)))
    path = fetch_file("toy", data_home=tmp_path / "home")
    assert gzip.decompress(path.read_bytes()) == CSV


def test_row_count_checked_when_md5_unknown(server, register, tmp_path):
    root, url = server
    (root / "toy.csv").write_bytes(CSV)
    register("toy", RemoteFileSpec("t", "t.csv.gz", (f"{url}/toy.csv",), n_rows=4))
    home = tmp_path / "home"
    with pytest.raises(ChecksumError, match="3 data rows, expected 4"):
        fetch_file("toy", data_home=home)
    assert _leftovers(home) == []


def test_checksum_mismatch_leaves_nothing(server, register, tmp_path):
    root, url = server
    (root / "toy.csv").write_bytes(CSV)
    register("toy", RemoteFileSpec("t", "t.csv.gz", (f"{url}/toy.csv",), "0" * 32))
    home = tmp_path / "home"
    with pytest.raises(ChecksumError, match="MD5") as info:
        fetch_file("toy", data_home=home)
    assert "toy" in str(info.value) and f"{url}/toy.csv" in str(info.value)
    assert _leftovers(home) == []


def test_http_error_is_download_error(server, register, tmp_path):
    _, url = server
    register("toy", RemoteFileSpec("t", "t.csv.gz", (f"{url}/missing.csv",), _md5(CSV)))
    with pytest.raises(DownloadError, match="404"):
        fetch_file("toy", data_home=tmp_path / "home")


def test_offline_error_names_data_set_url_and_manual_path(register, tmp_path):
    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/toy.csv"
    register("toy", RemoteFileSpec("t", "t.csv.gz", (url,), _md5(CSV)))
    home = tmp_path / "home"
    with pytest.raises(DownloadError) as info:
        fetch_file("toy", data_home=home, timeout=5)
    message = str(info.value)
    assert "'toy'" in message and url in message
    assert str(home / "t" / "t.csv.gz") in message and "GBMTL_DATA_HOME" in message
    assert _leftovers(home) == []


def test_failed_write_leaves_no_partial_file(register, tmp_path, monkeypatch):
    path = tmp_path / "home" / "t" / "t.csv.gz"

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(_base.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        _base._write_gzip_atomic(CSV, path)
    assert _leftovers(tmp_path / "home") == []


def test_loader_downloads_through_registry(server, register, tmp_path):
    root, url = server
    frame = pd.DataFrame(
        {
            "rownames": [1, 2, 3, 4],
            "funded_amnt": [1000, 2000, 3000, 4000],
            "term": ["term_36", "term_60", "term_36", "term_36"],
            "int_rate": [7.5, 12.0, 15.5, 9.0],
            "sub_grade": ["A1", "B3", "C2", "A4"],
            "annual_inc": [5e4, 6e4, 7e4, 8e4],
            "Class": ["good", "bad", "good", "good"],
        }
    )
    content = frame.to_csv(index=False).encode()
    (root / "lc.csv").write_bytes(content)
    register(
        "lending_club",
        RemoteFileSpec("lending_club", "lending_club.csv.gz", (f"{url}/lc.csv",), _md5(content)),
    )
    X, Y = load_lending_club(data_home=tmp_path / "home")
    assert list(Y.columns) == ["bad", "int_rate", "sub_grade"]
    assert Y["bad"].tolist() == [0, 1, 0, 0]
    assert not {"Class", "int_rate", "sub_grade"} & set(X.columns)
    assert (tmp_path / "home" / "lending_club" / "lending_club.csv.gz").is_file()
