"""Real browsers play Clear Key content with licenses from ``drmkit license-server``.

Headless Chromium (Debian's package, with its built-in Clear Key CDM), driven by Playwright, loads
a page from another origin than the license server: shaka-player (Common PSSH, ``cenc`` init
data) and dash.js (no PSSH in the manifest: ``keyids`` init data built from ``default_KID``) play
DASH content packaged here by shaka-packager under a key made by ``drmkit keys generate``. The
license server allows the page's origin (CORS); a page on an origin it does not allow gets no
license. Screenshots are saved under ``test-artifacts/``.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
NODE_MODULES = REPO / "tools" / "node_modules"
ARTIFACTS = REPO / "test-artifacts"
DRMKIT = str(Path(sys.executable).with_name("drmkit"))
CHROMIUM = os.environ.get("DRMKIT_CHROMIUM", "/usr/bin/chromium")
# The flags a sandbox without network needs (no background fetches, no GPU, no user namespace).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
PLAY_SECONDS = 2.0
PLAY_TIMEOUT_S = 45.0
DASHIF_CLEARKEY = "urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _require(condition: bool, what: str) -> None:
    """Skip locally, fail in CI, when a browser-test prerequisite is missing."""
    if condition:
        return
    if _in_ci():
        pytest.fail(f"{what} is required in CI (scripts/install-system-deps installs it)")
    pytest.skip(f"{what} is not installed (scripts/install-system-deps installs it)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(*command: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{command[0]} failed: {result.stdout}{result.stderr}"
    return result.stdout


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class PageServer:
    """A static web server for the player pages, on an origin of its own."""

    root: Path
    port: int = 0

    def __post_init__(self) -> None:
        handler = functools.partial(_QuietHandler, directory=str(self.root))
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@dataclass(frozen=True)
class Setup:
    """What the tests share: the key, the license server, the page server."""

    kid: str
    license_url: str
    metrics_url: str
    pages: PageServer
    other_pages: PageServer


def _package(source: Path, out: Path, kid: str, key: str) -> None:
    """Package ``source`` as Clear Key DASH (cenc) with shaka-packager."""
    packager = shutil.which("packager") or str(NODE_MODULES / ".bin" / "packager")
    out.mkdir(parents=True)
    _run(
        packager,
        f"in={source},stream=video,init_segment={out}/init.mp4,"
        f"segment_template={out}/segment_$Number$.m4s",
        "--enable_raw_key_encryption",
        "--keys", f"label=:key_id={kid}:key={key}",
        "--protection_scheme", "cenc",
        "--protection_systems", "CommonSystem",
        "--clear_lead", "0",
        "--segment_duration", "2",
        "--mpd_output", f"{out}/manifest.mpd",
    )  # fmt: skip


def _keyids_manifest(manifest: Path) -> None:
    """Replace the Common PSSH in ``manifest`` with a DASH-IF Clear Key element without init data.

    dash.js then builds ``keyids`` init data from ``cenc:default_KID``.
    """
    text = manifest.read_text()
    start = text.index('<ContentProtection schemeIdUri="urn:uuid:1077efec')
    end = text.index("</ContentProtection>", start) + len("</ContentProtection>")
    replacement = f'<ContentProtection schemeIdUri="{DASHIF_CLEARKEY}" value="ClearKey1.0"/>'
    manifest.write_text(text[:start] + replacement + text[end:])


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    _require(Path(CHROMIUM).exists(), f"Chromium ({CHROMIUM})")
    _require((NODE_MODULES / "shaka-player").is_dir(), "shaka-player (npm)")
    _require((NODE_MODULES / "dashjs").is_dir(), "dash.js (npm)")
    _require(shutil.which("ffmpeg") is not None, "ffmpeg")
    root = tmp_path_factory.mktemp("browser")
    env = dict(os.environ, DRMKIT_STATE_DIR=str(root / "state"))
    generated = json.loads(
        _run(DRMKIT, "keys", "generate", "--label", "browser", "--json", env=env)
    )
    kid, key = generated["kid"], generated["key"]
    ffmpeg = shutil.which("ffmpeg") or "ffmpeg"
    source = root / "source.mp4"
    _run(
        ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "8",
        "-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-g", "25",
        str(source),
    )  # fmt: skip
    web = root / "web"
    web.mkdir()
    for name in ("shaka.html", "dashjs.html", "eme_probe.js"):
        shutil.copy(HERE / name, web / name)
    (web / "node_modules").symlink_to(NODE_MODULES)
    _package(source, web / "cenc", kid, key)
    _package(source, web / "keyids", kid, key)
    _keyids_manifest(web / "keyids" / "manifest.mpd")
    pages, other_pages = PageServer(web), PageServer(web)
    port = _free_port()
    server_env = env | {"DRMKIT_LICENSE_SERVER__CORS_ORIGINS": json.dumps([pages.origin])}
    server = subprocess.Popen(
        [DRMKIT, "license-server", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "the license server did not start"
                time.sleep(0.1)
        yield Setup(kid, f"{base}/clearkey/license", f"{base}/metrics", pages, other_pages)
    finally:
        server.terminate()
        server.wait(10)
        pages.close()
        other_pages.close()


def _play(  # type: ignore[type-arg]
    page_server: PageServer,
    page_name: str,
    manifest: str,
    setup: Setup,
    shot: str,
    *,
    until_error: bool = False,
) -> dict:
    """Load the page and return its state once it played, or failed (``until_error``: only then)."""
    from playwright.sync_api import sync_playwright

    query = f"manifest=/{manifest}/manifest.mpd&license={setup.license_url}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.goto(f"{page_server.origin}/{page_name}?{query}")
            deadline = time.monotonic() + PLAY_TIMEOUT_S
            state: dict = {}  # type: ignore[type-arg]
            while time.monotonic() < deadline:
                state = page.evaluate("window.drmkitTest.state()")
                played = state["currentTime"] > PLAY_SECONDS and state["decodedFrames"] > 0
                if state["errors"] or (played and not until_error):
                    break
                time.sleep(0.25)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / shot))
            print(f"screenshot: {ARTIFACTS / shot}")
            return state
        finally:
            browser.close()


def test_shaka_player_plays_clear_key_with_drmkit_licenses(setup: Setup) -> None:
    state = _play(setup.pages, "shaka.html", "cenc", setup, "browser-shaka.png")
    assert state["errors"] == []
    assert state["currentTime"] > PLAY_SECONDS and state["decodedFrames"] > 0, state
    assert state["keyStatuses"] == {setup.kid: "usable"}
    assert "cenc" in state["initDataTypes"]


def test_dashjs_plays_clear_key_with_keyids_init_data(setup: Setup) -> None:
    state = _play(setup.pages, "dashjs.html", "keyids", setup, "browser-dashjs.png")
    assert state["errors"] == []
    assert state["currentTime"] > PLAY_SECONDS and state["decodedFrames"] > 0, state
    assert state["keyStatuses"] == {setup.kid: "usable"}
    assert state["initDataTypes"] == ["keyids"]


def test_a_page_on_an_origin_not_allowed_gets_no_license(setup: Setup) -> None:
    state = _play(
        setup.other_pages, "shaka.html", "cenc", setup, "browser-refused.png", until_error=True
    )
    assert state["decodedFrames"] == 0, state
    assert state["keyStatuses"].get(setup.kid) != "usable"
    assert any("6007" in error for error in state["errors"]), state  # shaka: license request failed
    with urllib.request.urlopen(setup.metrics_url, timeout=5) as response:
        metrics = response.read().decode()
    refused = [
        line
        for line in metrics.splitlines()
        if line.startswith("drmkit_license_cors_refused_total") and not line.endswith(" 0.0")
    ]
    assert refused, "the refused cross-origin request is counted"
