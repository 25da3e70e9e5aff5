#!/usr/bin/env python3
"""pubhttpd: a registry being published while it is read, for the tests
of ipm's sparse updates (never for real use).

Usage: pubhttpd.py CONTROL PORTFILE LOGFILE

Binds 127.0.0.1 on an ephemeral port, writes the port number to PORTFILE
(through PORTFILE.tmp and rename), then answers GET requests with files:

  - from the directory named in CONTROL/current (one line), except that
  - while the file CONTROL/first-root names a directory, the next request
    for /index.json is answered from that directory and CONTROL/first-root
    is deleted: a client gets that (old) root, then the (new) files the
    publisher wrote meanwhile.

No validators (ETag, Last-Modified): every answer is 200 or 404. One line
per request is appended to LOGFILE: "GET PATH STATUS DIRNAME".
Each connection is served by its own thread; SIGTERM ends the server.
"""
import http.server
import os
import signal
import sys
import threading

control, portfile, logfile = sys.argv[1:4]
lock = threading.Lock()


def pick(path):
    with lock:
        first = os.path.join(control, "first-root")
        if path == "/index.json" and os.path.exists(first):
            with open(first) as f:
                d = f.read().strip()
            os.unlink(first)
            return d
        with open(os.path.join(control, "current")) as f:
            return f.read().strip()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        d = pick(path)
        f = os.path.join(d, path.lstrip("/"))
        body, status = None, 404
        if ".." not in path.split("/") and os.path.isfile(f):
            with open(f, "rb") as fh:
                body, status = fh.read(), 200
        with lock, open(logfile, "a") as log:
            log.write("GET %s %d %s\n" % (path, status, os.path.basename(d)))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(portfile + ".tmp", portfile)
server.serve_forever()
