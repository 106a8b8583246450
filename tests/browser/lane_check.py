#!/usr/bin/env python3
"""tests/browser/lane_check.py HOST API_PORT RESOLVER_PORT IDLE_TIMEOUT_S

The resolver listener (node/lane.c) against the API port of the same node,
over raw sockets, on the demo data of tests/browser/run.sh:

  - the same request gets the same bytes from both ports: status line,
    every header in order, and body. Date may differ by its second; a page's
    lookup counter moves with every lookup, and with it the ETag and maybe
    Content-Length, so for counted pages those three are compared after
    checking that each port's Content-Length is its body's length and that
    the counter is the only difference in the body;
  - HEAD, HTTP/1.0, Connection: close, a claim refused for a wrong code, a
    bad code page, the JSON errors (400, 404, 405) and a path the resolver
    does not serve (the API's 404);
  - bad requests get the documented error and a close: garbage, a head past
    http_headers_max, Transfer-Encoding, and a request dripped slower than
    the idle timeout is closed unfinished; the node serves both ports after.

Prints "ok   NAME" or "FAIL NAME: why" per check and "N passed, N failed";
exits 1 on any failure. Takes no time limit on its own beyond the socket
timeouts below."""
import re
import socket
import sys
import time

HOST = sys.argv[1]
API = int(sys.argv[2])
LANE = int(sys.argv[3])
IDLE_S = int(sys.argv[4])
GTIN = "09520123456788"

passed = 0
failed = 0


def check(name, fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print(f"ok   {name}", flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported by name
        failed += 1
        print(f"FAIL {name}: {e}", flush=True)


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


class Conn:
    """A client connection that keeps what it read past one answer."""

    def __init__(self, port):
        self.s = socket.create_connection((HOST, port), timeout=10)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.s.close()

    def sendall(self, raw):
        self.s.sendall(raw)

    def recv(self, n):
        if self.buf:
            out, self.buf = self.buf[:n], self.buf[n:]
            return out
        return self.s.recv(n)

    def answer(self, head_only=False):
        """One answer: its raw bytes (head and body), read by Content-Length."""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                out, self.buf = self.buf, b""
                return out
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        m = re.search(rb"\r\nContent-Length: (\d+)\r\n", head + b"\r\n")
        n = 0 if head_only or m is None else int(m.group(1))
        if int(head.split(b" ", 2)[1]) in (204, 304):
            n = 0
        while len(rest) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                break
            rest += chunk
        self.buf = rest[n:]
        return head + b"\r\n\r\n" + rest[:n]


def connect(port):
    return Conn(port)


def read_answer(c, head_only=False):
    return c.answer(head_only)


def ask(port, raw, head_only=False):
    with connect(port) as c:
        c.sendall(raw)
        return c.answer(head_only)


def closed_after(s):
    """True when the server closes the connection (after its answer)."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def req(method, path, headers=(), body=b"", version="1.1"):
    lines = [f"{method} {path} HTTP/{version}", f"Host: {HOST}"]
    lines += list(headers)
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


DATE = re.compile(rb"\r\nDate: [^\r]*\r\n")


def same(a, b):
    """Byte-identical except the Date header's value."""
    a2 = DATE.sub(b"\r\nDate: -\r\n", a)
    b2 = DATE.sub(b"\r\nDate: -\r\n", b)
    expect(a2.count(b"\r\nDate: -\r\n") == 1, "no Date header")
    if a2 != b2:
        i = next((k for k in range(min(len(a2), len(b2))) if a2[k] != b2[k]), min(len(a2), len(b2)))
        raise AssertionError(f"differ at byte {i}: {a2[i:i + 60]!r} / {b2[i:i + 60]!r}")


COUNTER = [
    re.compile(rb'<p class="muted" id="lookups">[^<]*</p>'),
    re.compile(rb'"lookups":\{"count":\d+,"since_ms":\d+\},'),
]


def same_counted(a, b, head_only=False):
    """Byte-identical except Date, and the lookup counter with what follows
    from it (ETag, Content-Length), each checked on its own first."""
    def norm(x):
        head, _, body = x.partition(b"\r\n\r\n")
        m = re.search(rb"\r\nContent-Length: (\d+)\r\n", head + b"\r\n")
        expect(m is not None, "no Content-Length")
        if not head_only:
            expect(int(m.group(1)) == len(body), "Content-Length is not the body's length")
        expect(re.search(rb'\r\nETag: "[0-9a-f]{64}"', head) is not None, "no strong ETag")
        head = re.sub(rb'\r\nETag: "[0-9a-f]{64}"', b'\r\nETag: "-"', head)
        head = re.sub(rb"\r\nContent-Length: \d+", b"\r\nContent-Length: -", head)
        n = 0
        for c in COUNTER:
            body, k = c.subn(b"<counter>", body)
            n += k
        expect(head_only or n == 1, "the counter is not in the body once")
        return head + b"\r\n\r\n" + body
    same(norm(a), norm(b))


def both(raw, head_only=False):
    return ask(API, raw, head_only), ask(LANE, raw, head_only)


item = f"/01/{GTIN}/21/GEN1"


def page_html():
    a, b = both(req("GET", item, ["Accept: text/html", "Accept-Language: en"]))
    expect(a.startswith(b"HTTP/1.1 200 OK\r\n"), a[:40])
    same_counted(a, b)


def page_zh():
    a, b = both(req("GET", item + "?lang=zh"))
    expect(b"Content-Language: zh-CN" in b, "not Chinese")
    same_counted(a, b)


def page_tab_lang():
    # libevent keeps the tab after the colon, the lane skips it: the
    # language must come out the same.
    a, b = both(req("GET", item, ["Accept-Language:\tzh-CN"]))
    expect(b"Content-Language: zh-CN" in a, "the API port did not pick zh-CN")
    same_counted(a, b)


def page_json():
    a, b = both(req("GET", item, ["Accept: application/json"]))
    expect(b"Content-Type: application/json\r\n" in b and b'"proof":' in b, b[:200])
    same_counted(a, b)


def page_head():
    a, b = both(req("HEAD", item), head_only=True)
    expect(b.endswith(b"\r\n\r\n"), "HEAD carried a body")
    same_counted(a, b, head_only=True)


def not_registered():
    a, b = both(req("GET", f"/01/{GTIN}/21/FAKE0001"))
    expect(a.startswith(b"HTTP/1.1 404 Not Found\r\n"), a[:40])
    same_counted(a, b)


def no_304_for_old_tag():
    # Every lookup moves the counter and so the ETag: an old tag gets a 200
    # on both ports (a 304 needs the current tag, which no client can know
    # before its lookup; the 304 framing is unit-tested in test_nd_lane).
    a = ask(API, req("GET", item))
    tag = re.search(rb'ETag: ("[0-9a-f]{64}")', a).group(1).decode()
    for port in (API, LANE):
        x = ask(port, req("GET", item, [f"If-None-Match: {tag}"]))
        expect(x.startswith(b"HTTP/1.1 200 OK\r\n"), x[:40])


def http10():
    for raw in (req("GET", item, version="1.0"),
                req("GET", item, ["Connection: keep-alive"], version="1.0")):
        with connect(API) as s:
            s.sendall(raw)
            a = read_answer(s)
        with connect(LANE) as s:
            s.sendall(raw)
            b = read_answer(s)
            if b"keep-alive" in raw:
                # kept: a second request on it is answered
                s.sendall(req("GET", "/v1/none", version="1.0"))
                expect(read_answer(s).startswith(b"HTTP/1.0 404 "), "keep-alive not kept")
            else:
                expect(closed_after(s), "HTTP/1.0 not closed")
        expect(a.startswith(b"HTTP/1.0 200 OK\r\n"), a[:40])
        same_counted(a, b)


def connection_close():
    with connect(LANE) as s:
        s.sendall(req("GET", item, ["Connection: close"]))
        b = read_answer(s)
        expect(closed_after(s), "not closed")
    a = ask(API, req("GET", item, ["Connection: close"]))
    expect(b"\r\nConnection: close\r\n" in b, "no Connection: close")
    same_counted(a, b)


def exact(raw):
    def run():
        a, b = both(raw)
        same(a, b)
    return run


def other_path():
    a = ask(API, req("GET", "/no/such/path"))
    b = ask(LANE, req("GET", "/v1/status"))
    expect(b.startswith(b"HTTP/1.1 404 Not Found\r\n") and b'"not_found"' in b, b[:80])
    same(a, b)


def keepalive_pipelined():
    with connect(LANE) as s:
        s.sendall(req("GET", item) + req("HEAD", item) + req("GET", f"/01/{GTIN}/21/GEN2",
                                                               ["Accept: application/json"]))
        r1, r2, r3 = read_answer(s), read_answer(s, head_only=True), read_answer(s)
        for r in (r1, r2, r3):
            expect(r.startswith(b"HTTP/1.1 200 OK\r\n"), r[:40])
        expect(b"<!DOCTYPE html>" in r1 and r2.endswith(b"\r\n\r\n") and b'"GEN2"' in r3,
               "answers out of order")


def refused(raw, status):
    def run():
        with connect(LANE) as s:
            s.sendall(raw)
            b = read_answer(s)
            expect(b.startswith(f"HTTP/1.1 {status} ".encode()), b[:60])
            expect(b"Content-Type: application/json\r\n" in b and b'{"error":"' in b, b[:300])
            expect(b"\r\nConnection: close\r\n" in b, "no Connection: close")
            expect(closed_after(s), "not closed")
    return run


def slow_drip():
    # One byte every quarter second, for at least four idle timeouts: the
    # lane must close the connection before the request is ever whole.
    raw = req("GET", item)
    s = socket.create_connection((HOST, LANE), timeout=1)
    closed = False
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < 4 * IDLE_S + 2 and not closed:
        try:
            s.sendall(raw[i % (len(raw) - 4):][:1])
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        i += 1
        try:
            got = s.recv(4096)
            if got == b"":
                closed = True
            else:
                raise AssertionError(f"answered a partial request: {got[:60]!r}")
        except socket.timeout:
            pass
        time.sleep(0.25)
    s.close()
    expect(closed, "the lane kept a dripping request open")


def still_serving():
    for port in (API, LANE):
        x = ask(port, req("GET", item))
        expect(x.startswith(b"HTTP/1.1 200 OK\r\n"), f"port {port}: {x[:40]!r}")


form = ["Content-Type: application/x-www-form-urlencoded"]
check("page (HTML) is the same on both ports", page_html)
check("page (?lang=zh) is the same on both ports", page_zh)
check("Accept-Language after a tab picks the same language on both ports", page_tab_lang)
check("JSON with proof is the same on both ports", page_json)
check("HEAD is the same on both ports, without a body", page_head)
check("an unregistered item's 404 page is the same on both ports", not_registered)
check("an old ETag gets a 200 on both ports", no_304_for_old_tag)
check("HTTP/1.0 (closed, or kept with keep-alive) is the same on both ports", http10)
check("Connection: close is echoed and closes", connection_close)
check("a bad code's 400 page is the same on both ports",
      exact(req("GET", f"/01/{GTIN[:-1]}9/21/GEN1")))
check("a bad code's JSON 400 is the same on both ports",
      exact(req("GET", f"/01/{GTIN[:-1]}9/21/GEN1", ["Accept: application/json"])))
check("a link without a serial gets the same 404", exact(req("GET", f"/01/{GTIN}")))
check("PUT gets the same 405", exact(req("PUT", item)))
check("a path too long gets the same 414", exact(req("GET", "/01/" + "a" * 1100)))
check("a claim with a wrong code gets the same 403 page",
      exact(req("POST", f"/01/{GTIN}/21/GEN1", form, b"code=WRONG-CODE")))
check("a claim without a code gets the same 400 page",
      exact(req("POST", f"/01/{GTIN}/21/GEN1", form, b"x=1")))
check("a claim form over 1 KiB gets the same 400 page",
      exact(req("POST", f"/01/{GTIN}/21/GEN1", form, b"code=" + b"A" * 2000)))
check("a path the resolver does not serve gets the API's 404", other_path)
check("pipelined requests are answered in order", keepalive_pipelined)
check("garbage gets 400 and a close", refused(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400))
check("a bare LF gets 400 and a close", refused(b"GET / HTTP/1.1\nHost: x\n\n", 400))
check("a head past http_headers_max gets 431 and a close",
      refused(req("GET", item, ["X-Big: " + "a" * 20000]), 431))
check("Transfer-Encoding gets 501 and a close",
      refused(b"POST " + item.encode() + b" HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\ncode=\r\n0\r\n\r\n", 501))
check("a body past the lane's bound gets 413 and a close",
      refused(b"POST " + item.encode() + b" HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413))
check("HTTP/2.0 gets 505 and a close", refused(b"GET / HTTP/2.0\r\n\r\n", 505))
check("a request dripped past the idle timeout is closed unanswered", slow_drip)
check("both ports still serve after the refusals", still_serving)
print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
