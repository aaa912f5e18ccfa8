"""report.html in a real browser: headless Chromium (Debian's package) loads it with no console error, no
uncaught exception and no failed resource, shows the headline table, and leaves a screenshot in the test's
tmp folder. The browser is driven over the DevTools protocol with a small standard-library WebSocket client.

Skipped, with the reason, only when Chromium is not installed *and* we are not in CI (``CI=true``); in CI a
missing browser fails the test (``.ci/run`` installs it with apt-get).
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from simulator.cli import main

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-address=127.0.0.1"]


def _browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def browser():
    path = _browser()
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but no Chromium: .ci/run installs it with `apt-get install -y chromium`")
        pytest.skip("Chromium not installed (apt-get install -y chromium); this test runs in CI")
    return path


# ------------------------------------------------------------------------------- a minimal CDP client
class _WebSocket:
    """Just enough of RFC 6455 for the DevTools protocol: text frames, client masking, no extensions."""

    def __init__(self, host: str, port: int, path: str, timeout: float = 30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"websocket handshake refused: {head[:100]!r}")

    def send(self, text: str) -> None:
        data = text.encode()
        n = len(data)
        head = bytes([0x81])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("websocket closed")
            buf += chunk
        return buf

    def recv(self) -> str:
        parts = []
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            payload = self._exact(n)
            op = b0 & 0x0F
            if op == 0x8:
                raise ConnectionError("websocket closed by the browser")
            if op in (0x1, 0x0):
                parts.append(payload)
                if b0 & 0x80:
                    return b"".join(parts).decode()

    def close(self) -> None:
        self.sock.close()


class Page:
    """One browser tab: send commands, collect console errors, exceptions and failed loads."""

    def __init__(self, ws: _WebSocket):
        self.ws, self.next_id, self.errors, self.events = ws, 0, [], []

    def _note(self, msg: dict) -> None:
        m, p = msg.get("method"), msg.get("params", {})
        self.events.append(m)
        if m == "Runtime.exceptionThrown":
            self.errors.append("uncaught: " + json.dumps(p.get("exceptionDetails", {}))[:2000])
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.errors.append("console.error: " + json.dumps(p.get("args", []))[:300])
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            self.errors.append("log: " + p["entry"].get("text", "") + " " + p["entry"].get("url", ""))

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._note(msg)

    def wait_for(self, method: str, timeout: float = 30.0) -> None:
        end = time.monotonic() + timeout
        while method not in self.events:
            if time.monotonic() > end:
                raise TimeoutError(method)
            self._note(json.loads(self.ws.recv()))

    def settle(self, seconds: float = 0.5) -> None:
        """Read events for a moment after load (late console messages)."""
        self.ws.sock.settimeout(seconds)
        try:
            while True:
                self._note(json.loads(self.ws.recv()))
        except (socket.timeout, TimeoutError):
            pass
        finally:
            self.ws.sock.settimeout(30.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _json(port: int, method: str, path: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request(method, path)
    body = conn.getresponse().read()
    conn.close()
    return json.loads(body)


def open_in_browser(browser: str, url: str, shot: Path) -> tuple[list[str], dict]:
    """Load ``url`` in headless Chromium; returns (errors, facts about #headline) and saves ``shot``."""
    port = _free_port()
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    proc = subprocess.Popen([browser, *FLAGS, f"--remote-debugging-port={port}", f"--user-data-dir={profile}",
                             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 60
        while True:
            try:
                _json(port, "GET", "/json/version")
                break
            except (OSError, ValueError):
                if time.monotonic() > end or proc.poll() is not None:
                    raise RuntimeError("Chromium did not open its DevTools port")
                time.sleep(0.2)
        tab = _json(port, "PUT", "/json/new?about:blank")
        ws_path = "/" + tab["webSocketDebuggerUrl"].split("/", 3)[3]
        page = Page(_WebSocket("127.0.0.1", port, ws_path))
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.call(f"{domain}.enable")
        page.call("Emulation.setDeviceMetricsOverride", width=1280, height=1600, deviceScaleFactor=1, mobile=False)
        page.call("Page.navigate", url=url)
        page.wait_for("Page.loadEventFired")
        page.settle()
        facts = page.call("Runtime.evaluate", returnByValue=True, expression="""(() => {
            const t = document.getElementById('headline');
            if (!t) return {found: false};
            const r = t.getBoundingClientRect(), s = getComputedStyle(t);
            return {found: true, tag: t.tagName, rows: t.rows ? t.rows.length : 0, width: r.width,
                    height: r.height, top: r.top, display: s.display, visibility: s.visibility,
                    text: t.innerText.slice(0, 400), title: document.title,
                    images: Array.from(document.images).map(i => i.naturalWidth)};
        })()""")["result"]["value"]
        png = page.call("Page.captureScreenshot", format="png")["data"]
        shot.write_bytes(base64.b64decode(png))
        page.ws.close()
        return page.errors, facts
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ tests
@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "run"
    assert main(["scenarios/japan_servicing_ban.yaml", "--out", str(out), "--replications", "2",
                 "--set", "horizon=120d", "--quiet"]) == 0
    return out / "report.html"


def test_report_html_is_self_contained(report):
    text = report.read_text(encoding="utf-8")
    assert 'id="headline"' in text and "<script" not in text
    for needle in ('src="http', "src='http", 'href="http', "url(http", "@import"):
        assert needle not in text, needle            # no network: everything inline
    assert "data:image/png;base64," in text          # the charts are embedded
    assert "The question" in text and "What if Japan stops servicing" in text


def test_report_html_loads_in_headless_chromium_with_headline_table(browser, report, tmp_path):
    shot = tmp_path / "report_html.png"
    errors, facts = open_in_browser(browser, report.resolve().as_uri(), shot)
    assert errors == []
    assert facts["found"] and facts["tag"] == "TABLE"
    assert facts["rows"] >= 2 and facts["width"] > 300 and facts["height"] > 20
    assert facts["display"] != "none" and facts["visibility"] == "visible" and facts["top"] < 1600
    assert "wafer_output" in facts["text"] and "price_ex_china" in facts["text"]
    assert facts["images"] and all(w > 0 for w in facts["images"])     # every chart decoded
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_browser_harness_sees_errors(browser, tmp_path):
    """The check above can fail: a page with an uncaught exception, a console.error and a missing image
    is reported, and a page without the table has no #headline."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><p>x</p><img src='missing.png'>"
                   "<script>console.error('boom'); throw new Error('bang');</script></body></html>")
    errors, facts = open_in_browser(browser, bad.resolve().as_uri(), tmp_path / "bad.png")
    text = " ".join(errors)
    assert "bang" in text and "boom" in text and "missing.png" in text
    assert facts == {"found": False}


def test_charts_show_at_one_scale(report):
    """Each chart's ``<img>`` is half its PNG's pixel width, so a one-panel chart shows at the scale of the
    two-column ones (it used to fill the page, its text twice as big)."""
    import base64
    import re
    text = report.read_text(encoding="utf-8")
    imgs = re.findall(r'<img alt="[^"]*" width="(\d+)" src="data:image/png;base64,([^"]+)"', text)
    assert imgs and len(imgs) == text.count("<img")
    for width, data in imgs:
        png = base64.b64decode(data)
        assert int(width) * 2 == int.from_bytes(png[16:20], "big")
