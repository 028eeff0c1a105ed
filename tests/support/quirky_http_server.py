#!/usr/bin/python3
"""A small HTTP/1.1 file server that misbehaves on purpose, for the tests of framewire's HTTP
client (tests/support/test_http_server.h starts it; the pytest fixtures may too).

The first path segment picks the behaviour, the rest names a file under --root:

  /ok/PATH        HEAD, GET and single byte ranges done right (206 + Content-Range), ETag and
                  Last-Modified like nginx's
  /norange/PATH   ignores Range: always 200 with the whole file (like python -m http.server)
  /flaky/PATH     every odd-numbered request (HEAD and GET counted apart) for PATH is answered 503
  /cut/PATH       every odd-numbered GET for PATH promises the whole answer, sends half of it
                  and closes the connection
  /gzip/PATH      adds "Content-Encoding: gzip" (a lie: the bytes are the file's)
  /badrange/PATH  206 with a Content-Range that names the wrong start
  /nohead/PATH    HEAD is refused (405); GET works

Each request is logged as one line: METHOD URI STATUS BYTES_SENT BODY_BYTES "RANGE", the same
fields as the nginx access log format the tests use.
"""

import argparse
import email.utils
import os
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."
    log_path = None
    counts = {}
    lock = threading.Lock()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def _log(self, status, body_bytes):
        line = '%s %s %d %d %d "%s"\n' % (self.command, self.path, status, body_bytes + 200, body_bytes,
                                          self.headers.get("Range", "-"))
        with Handler.lock:
            with open(Handler.log_path, "a") as log:
                log.write(line)

    def _count(self):
        key = (self.command, self.path)
        with Handler.lock:
            n = Handler.counts.get(key, 0) + 1
            Handler.counts[key] = n
            return n

    def _simple(self, status, text=b""):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(text)
        self._log(status, len(text) if self.command != "HEAD" else 0)

    def do_HEAD(self):
        self._serve(head=True)

    def do_GET(self):
        self._serve(head=False)

    def _serve(self, head):
        mode, _, rel = self.path.lstrip("/").partition("/")
        rel = urllib.parse.unquote(rel)
        path = os.path.realpath(os.path.join(Handler.root, rel))
        if not path.startswith(os.path.realpath(Handler.root) + os.sep) or not os.path.isfile(path):
            return self._simple(404, b"not found\n")
        count = self._count()
        if mode == "nohead" and head:
            return self._simple(405, b"no HEAD here\n")
        if mode == "flaky" and count % 2 == 1:
            return self._simple(503, b"try again\n")
        stat = os.stat(path)
        size = stat.st_size
        with open(path, "rb") as f:
            data = f.read()
        status = 200
        start, end = 0, size - 1
        rng = self.headers.get("Range")
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng or "")
        if m and mode != "norange":
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else size - 1
            end = min(end, size - 1)
            if start > end:
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return self._log(416, 0)
            status = 206
        body = data[start:end + 1]
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"%x-%x"' % (int(stat.st_mtime), size))
        self.send_header("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
        if status == 206:
            shown = start + 1 if mode == "badrange" else start
            self.send_header("Content-Range", "bytes %d-%d/%d" % (shown, end, size))
        if mode == "gzip":
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        if head:
            return self._log(status, 0)
        if mode == "cut" and count % 2 == 1:
            half = body[: len(body) // 2]
            self.wfile.write(half)
            self.wfile.flush()
            self.close_connection = True
            self._log(status, len(half))
            return
        self.wfile.write(body)
        self._log(status, len(body))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    Handler.root = args.root
    Handler.log_path = args.log
    open(args.log, "a").close()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
