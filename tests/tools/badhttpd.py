#!/usr/bin/env python3
"""badhttpd: servers that misbehave, for the tests of ipm's limits (never for real use).

Usage: badhttpd.py MODE PORTFILE [ARG...]

Binds 127.0.0.1 on an ephemeral port, writes the port number to PORTFILE
(through PORTFILE.tmp and rename, so a reader polling for it never sees a
partial number), then answers every connection, whatever the request or
protocol, according to MODE:

  stall          accepts and never answers (reads the request, then waits)
  unaccepted     never accepts: its backlog is full, so connecting hangs
  trickle FILE   HTTP 200 with FILE's Content-Length, one byte every 0.4 s
  flood          HTTP 200, chunked, an endless body of zeros
  chunked FILE   HTTP 200, chunked (no Content-Length), FILE's content
  length N       HTTP 200 announcing Content-Length N, then N zero bytes
  error N        HTTP 503 with an error page of N bytes (Content-Length N)
  after FILE MARKER...
                 holds the answer until every MARKER file exists (60 s at
                 most, then HTTP 503), then HTTP 200 with FILE's content:
                 a download that only ends once something else has happened

Each connection is served by its own thread; SIGTERM ends the server.
"""
import os
import signal
import socket
import sys
import threading
import time


def read_request(conn):
    conn.settimeout(5)
    data = b""
    try:
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, OSError):
        pass
    conn.settimeout(None)
    return data


def send_head(conn, length=None):
    head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
    if length is None:
        head += "Transfer-Encoding: chunked\r\n"
    else:
        head += "Content-Length: %d\r\n" % length
    head += "Connection: close\r\n\r\n"
    conn.sendall(head.encode())


def send_chunk(conn, data):
    conn.sendall(b"%x\r\n%s\r\n" % (len(data), data))


def send_unavailable(conn):
    conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def serve(conn, mode, arg, markers):
    try:
        if mode == "stall":
            read_request(conn)
            while True:
                time.sleep(3600)
        read_request(conn)
        if mode == "trickle":
            body = open(arg, "rb").read()
            send_head(conn, len(body))
            for i in range(len(body)):
                conn.sendall(body[i:i + 1])
                time.sleep(0.4)
        elif mode == "flood":
            send_head(conn)
            block = b"\0" * 65536
            while True:
                send_chunk(conn, block)
        elif mode == "chunked":
            body = open(arg, "rb").read()
            send_head(conn)
            for i in range(0, len(body), 1000):
                send_chunk(conn, body[i:i + 1000])
            conn.sendall(b"0\r\n\r\n")
        elif mode == "after":
            deadline = time.monotonic() + 60
            while not all(os.path.exists(m) for m in markers):
                if time.monotonic() > deadline:
                    return send_unavailable(conn)
                time.sleep(0.05)
            body = open(arg, "rb").read()
            send_head(conn, len(body))
            conn.sendall(body)
        elif mode == "error":
            n = int(arg)
            conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n" % n)
            page = b"<html><body>down for maintenance</body></html>\n" * (n // 48 + 1)
            conn.sendall(page[:n])
        elif mode == "length":
            n = int(arg)
            send_head(conn, n)
            block = b"\0" * 65536
            while n > 0:
                conn.sendall(block[:min(n, len(block))])
                n -= min(n, len(block))
    except OSError:
        pass
    finally:
        conn.close()


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    mode, portfile = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else None
    markers = sys.argv[4:]
    if mode not in ("stall", "unaccepted", "trickle", "flood", "chunked", "length", "error", "after"):
        sys.stderr.write("badhttpd: unknown mode '%s'\n" % mode)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(0 if mode == "unaccepted" else 16)
    if mode == "unaccepted":
        # one connection fills a backlog of 0: the kernel drops later SYNs
        filler = socket.create_connection(server.getsockname())
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % server.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    if mode == "unaccepted":
        while True:
            time.sleep(3600)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn, mode, arg, markers), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
