"""cdp.py — a headless Chromium driven over the Chrome DevTools Protocol,
with the Python standard library only (for the flame graph's browser test).

    with Chromium("/usr/bin/chromium") as c:
        c.navigate("file:///tmp/x.svg")
        c.evaluate("document.title")
        c.click(100, 200)

Chromium starts with its own new profile directory and
--remote-debugging-port=0; the port it picked is read from
<profile>/DevToolsActivePort.  The page target's WebSocket address comes
from the /json/list endpoint.  The WebSocket client (RFC 6455) is the
least that CDP needs: the upgrade handshake with its accept check, masked
text frames from the client, unmasked and possibly fragmented frames from
the browser, pings answered, a close ends the session.  Calls are
synchronous: call() sends {"id", "method", "params"} and reads messages
until the reply with that id, keeping the events that arrive meanwhile.

Chromium runs in a session of its own and is killed with its whole
process group on exit, whatever happened; its profile directory goes too.
"""

import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.parse

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0"]


class CdpError(Exception):
    pass


class WebSocket:
    """A client WebSocket over a plain TCP socket (ws:// only)."""

    def __init__(self, url, timeout):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "ws":
            raise CdpError("not a ws:// address: %s" % url)
        self.sock = socket.create_connection((u.hostname, u.port),
                                             timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
            % (u.path or "/", u.hostname, u.port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise CdpError("connection closed during the handshake")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise CdpError("handshake refused: %s" % lines[0])
        headers = dict(l.split(":", 1) for l in lines[1:] if ":" in l)
        headers = {k.strip().lower(): v.strip() for k, v in headers.items()}
        want = base64.b64encode(hashlib.sha1(
            (key + WS_GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != want:
            raise CdpError("bad Sec-WebSocket-Accept in the handshake")

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise CdpError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode, payload):
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + body)

    def send(self, text):
        self._send_frame(0x1, text.encode())

    def recv(self):
        """The next text message (fragments joined); pings answered."""
        parts = []
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i & 3] for i, b in enumerate(data))
            if opcode == 0x9:
                self._send_frame(0xA, data)
                continue
            if opcode == 0x8:
                raise CdpError("the browser closed the connection")
            if opcode in (0x0, 0x1, 0x2):
                parts.append(data)
                if b0 & 0x80:
                    return b"".join(parts).decode()

    def close(self):
        try:
            self._send_frame(0x8, struct.pack(">H", 1000))
        except OSError:
            pass
        self.sock.close()


class Chromium:
    def __init__(self, exe="/usr/bin/chromium", timeout=30):
        self.exe, self.timeout = exe, timeout
        self.proc = self.ws = None
        self.dir = tempfile.mkdtemp(prefix="hs-chromium-")
        self.next_id = 0
        self.events = []

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        profile = os.path.join(self.dir, "profile")
        os.mkdir(profile)
        self.log = open(os.path.join(self.dir, "chromium.log"), "wb")
        self.proc = subprocess.Popen(
            [self.exe] + FLAGS + ["--user-data-dir=" + profile,
                                  "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            start_new_session=True)
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.monotonic() + self.timeout
        port = None
        while port is None:
            if self.proc.poll() is not None:
                raise CdpError("chromium exited with %d: %s"
                               % (self.proc.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                raise CdpError("no DevToolsActivePort after %d s"
                               % self.timeout)
            try:
                with open(port_file) as f:
                    first = f.readline().strip()
                port = int(first) if first else None
            except (OSError, ValueError):
                pass
            if port is None:
                time.sleep(0.1)
        self.ws = WebSocket(self._page_ws(port, deadline), self.timeout)

    def _page_ws(self, port, deadline):
        """The WebSocket address of the first page target."""
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", port,
                                              timeout=self.timeout)
            try:
                conn.request("GET", "/json/list")
                targets = json.loads(conn.getresponse().read())
            except (OSError, ValueError):
                targets = []
            finally:
                conn.close()
            for t in targets:
                if t.get("type") == "page" and "webSocketDebuggerUrl" in t:
                    return t["webSocketDebuggerUrl"]
            if time.monotonic() > deadline:
                raise CdpError("no page target on port %d" % port)
            time.sleep(0.1)

    def log_tail(self):
        self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read()[-600:].decode(errors="replace")

    def stop(self):
        if self.ws is not None:
            self.ws.close()
            self.ws = None
        if self.proc is not None:
            # The whole group: the browser and its renderer, GPU and
            # utility processes (they outlive a killed browser otherwise).
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.log.close()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.killpg(self.proc.pid, 0)
                except ProcessLookupError:
                    break  # no process left in the group
                time.sleep(0.05)
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- the protocol -------------------------------------------------------

    def call(self, method, **params):
        self.next_id += 1
        my = self.next_id
        self.ws.send(json.dumps({"id": my, "method": method,
                                 "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my:
                if "error" in msg:
                    raise CdpError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method, timeout=None):
        """The first event named method not yet consumed (waiting for it);
        earlier events of other kinds stay in self.events."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, ev in enumerate(self.events):
                if ev["method"] == method:
                    return self.events.pop(i)
            if time.monotonic() > deadline:
                raise CdpError("no %s event" % method)
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)

    def navigate(self, url, width=1400, height=1000):
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width,
                  height=height, deviceScaleFactor=1, mobile=False)
        self.events.clear()
        r = self.call("Page.navigate", url=url)
        if r.get("errorText"):
            raise CdpError("navigate %s: %s" % (url, r["errorText"]))
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", expression=expression,
                      returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CdpError("%s: %s" % (
                d.get("text"), d.get("exception", {}).get("description")))
        return r["result"].get("value")

    def exceptions(self):
        """Uncaught script errors reported so far (Runtime.exceptionThrown),
        as text."""
        out = [ev for ev in self.events
               if ev["method"] == "Runtime.exceptionThrown"]
        return [json.dumps(ev["params"]["exceptionDetails"])[:300]
                for ev in out]

    def mouse(self, kind, x, y, **extra):
        self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, **extra)

    def click(self, x, y):
        """A real left click at (x, y) in CSS pixels of the viewport."""
        self.mouse("mouseMoved", x, y)
        self.mouse("mousePressed", x, y, button="left", clickCount=1)
        self.mouse("mouseReleased", x, y, button="left", clickCount=1)

    def type_text(self, text):
        self.call("Input.insertText", text=text)

    def key(self, key, code, keycode):
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=key, code=code,
                      windowsVirtualKeyCode=keycode)

    def screenshot(self, path):
        r = self.call("Page.captureScreenshot", format="png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
