"""Shared model files: lookup order, status, and the verified, resumable download against a
local HTTP server (never the internet)."""

from __future__ import annotations

import hashlib
import http.server
import itertools
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from models import files
from models.files import DownloadError, ModelFileMissingError, SharedFile

PAYLOAD = os.urandom(3 << 20) + b"voxshift"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class FakeHub:
    """A minimal Hub ``resolve`` endpoint serving one file, with Range support and fault modes."""

    data: bytes
    url: str = ""
    repo: str = "lj1995/VoiceConversionWebUI"
    ranges: list[str] = field(default_factory=list)
    drop_first_get_after: int | None = None
    gets: int = 0


def _handler(hub: FakeHub) -> type[http.server.BaseHTTPRequestHandler]:
    etag = hashlib.sha256(hub.data).hexdigest()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _ok_path(self) -> bool:
            if re.fullmatch(rf"/{hub.repo}/resolve/[\w.-]+/[\w.-]+", self.path.split("?")[0]):
                return True
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False

        def _headers(self, status: int, start: int, length: int) -> None:
            self.send_response(status)
            self.send_header("ETag", f'"{etag}"')
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(length))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(hub.data) - 1}/{len(hub.data)}")
            self.end_headers()

        def do_HEAD(self) -> None:
            if self._ok_path():
                self._headers(200, 0, len(hub.data))

        def do_GET(self) -> None:
            if not self._ok_path():
                return
            hub.gets += 1
            rng = self.headers.get("Range")
            start = 0
            if rng:
                hub.ranges.append(rng)
                start = int(rng.split("=")[1].split("-")[0])
            body = hub.data[start:]
            self._headers(206 if start else 200, start, len(body))
            if hub.drop_first_get_after is not None and hub.gets == 1:
                self.wfile.write(body[: hub.drop_first_get_after])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(body)

    return Handler


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    fake = FakeHub(PAYLOAD)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def fake_file() -> SharedFile:
    return replace(files.RMVPE, sha256=hashlib.sha256(PAYLOAD).hexdigest(), size=len(PAYLOAD))


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VOXSHIFT_MODELS_DIR", str(tmp_path / "models"))
    for f in files.SHARED_FILES:
        monkeypatch.delenv(f.env, raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))


def test_download_verifies_and_reports_progress(hub: FakeHub, fake_file: SharedFile, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    path = files.download(fake_file, endpoint=hub.url, progress=lambda d, t: seen.append((d, t)))
    assert path == tmp_path / "models" / "rmvpe.pt"
    assert path.read_bytes() == PAYLOAD
    assert seen and seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))
    st = files.locate(fake_file)
    assert st.present and st.size_ok and st.origin == "models folder"
    gets = hub.gets
    assert files.download(fake_file, endpoint=hub.url) == path  # already verified: no new request
    assert hub.gets == gets


def test_download_resumes_after_a_dropped_connection(hub: FakeHub, fake_file: SharedFile) -> None:
    hub.drop_first_get_after = 1 << 20
    path = files.download(fake_file, endpoint=hub.url)  # retries by itself, from where it stopped
    assert path.read_bytes() == PAYLOAD
    assert hub.gets == 2
    assert any(re.fullmatch(r"bytes=(\d+)-", r) and int(r[6:-1]) >= 1 << 20 for r in hub.ranges), hub.ranges


def test_cancel_keeps_partial_data_and_resumes(hub: FakeHub, fake_file: SharedFile) -> None:
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= 1 << 20:
            cancel.set()

    with pytest.raises(DownloadError, match="cancelled after"):
        files.download(fake_file, endpoint=hub.url, progress=progress, cancel=cancel)
    assert not files.locate(fake_file).present
    assert not hub.ranges
    path = files.download(fake_file, endpoint=hub.url)
    assert path.read_bytes() == PAYLOAD
    assert any(int(r[6:-1]) > 0 for r in hub.ranges), hub.ranges


def test_checksum_mismatch_deletes_download_and_keeps_installed_file(
    hub: FakeHub, fake_file: SharedFile, tmp_path: Path
) -> None:
    wrong = replace(fake_file, sha256="0" * 64)
    installed = tmp_path / "models" / "rmvpe.pt"
    installed.parent.mkdir(parents=True)
    installed.write_bytes(b"the user's own file")
    with pytest.raises(DownloadError, match="expected 0000000000000000"):
        files.download(wrong, endpoint=hub.url, force=True)
    assert installed.read_bytes() == b"the user's own file"
    assert not list((tmp_path / "models" / ".partial").glob("rmvpe.pt*"))


def test_unreachable_server_is_one_line(fake_file: SharedFile) -> None:
    with pytest.raises(DownloadError) as err:
        files.download(fake_file, endpoint="http://127.0.0.1:9")
    assert (
        "could not download rmvpe.pt from http://127.0.0.1:9/lj1995/VoiceConversionWebUI/resolve/main/"
        in str(err.value)
    )
    assert "\n" not in str(err.value)


def test_http_error_is_reported(hub: FakeHub, fake_file: SharedFile) -> None:
    with pytest.raises(DownloadError, match="HTTPError"):
        files.download(replace(fake_file, repo_id="no/such-repo"), endpoint=hub.url)


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    st = files.locate("hubert")
    assert not st.present and st.path == tmp_path / "models" / "hubert_base.pt"
    with pytest.raises(
        ModelFileMissingError, match=r"hubert_base.pt .* not found .*lj1995/VoiceConversionWebUI"
    ):
        files.require("hubert_base.pt")
    folder_copy = tmp_path / "models" / "hubert_base.pt"
    folder_copy.parent.mkdir(parents=True)
    folder_copy.write_bytes(b"x")
    assert files.require("hubert") == folder_copy
    env_copy = tmp_path / "elsewhere.pt"
    env_copy.write_bytes(b"y")
    monkeypatch.setenv("VOXSHIFT_HUBERT", str(env_copy))
    assert files.require("hubert") == env_copy
    assert files.locate("hubert").origin == "environment ($VOXSHIFT_HUBERT)"
    explicit = tmp_path / "mine.pt"
    explicit.write_bytes(b"z")
    assert files.require("hubert", explicit) == explicit
    with pytest.raises(ModelFileMissingError, match="unknown shared model file"):
        files.spec("nope.pt")


def test_default_folder_is_the_user_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOXSHIFT_MODELS_DIR")
    import platformdirs

    assert files.models_dir() == platformdirs.user_data_path("voxshift", appauthor=False) / "models"
