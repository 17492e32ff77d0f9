"""A load generator cheap enough to share two cores with the server it measures: keep-alive
HTTP/1.1 connections over plain sockets, each sending requests serialised beforehand and
reading the answers by their Content-Length, one thread per connection, in a few processes
of their own (`python -m benchmarks.load`, given its work as a pickle on stdin).

The processes connect, say they are ready, and start together when told; each answers with
its latencies, its statuses, the wall-clock span it ran and the CPU it used, so that the
benchmark can report the generator's own share of the machine."""

from __future__ import annotations

import pickle
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Load:
    """What the generator measured: one latency (seconds) and one status per request."""

    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    started: float = float("inf")
    ended: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    def add(self, other: Load) -> None:
        self.latencies += other.latencies
        self.statuses += other.statuses
        self.started = min(self.started, other.started)
        self.ended = max(self.ended, other.ended)
        self.cpu_seconds += other.cpu_seconds


def request(path: str, body: bytes, secret: str) -> bytes:
    """A POST of a JSON body, ready to send on a keep-alive connection."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {secret}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def answer(conn: socket.socket, pending: bytearray) -> tuple[int, bytearray]:
    """The status of the next response on `conn`, and what was read beyond it."""
    while (end := pending.find(b"\r\n\r\n")) < 0:
        pending += receive(conn)
    head = bytes(pending[:end]).lower()
    status = int(head[9:12])
    start = head.find(b"\r\ncontent-length:") + 17
    stop = head.find(b"\r\n", start)
    length = int(head[start : stop if stop >= 0 else len(head)])
    total = end + 4 + length
    while len(pending) < total:
        pending += receive(conn)
    return status, pending[total:]


def receive(conn: socket.socket) -> bytes:
    chunk = conn.recv(1 << 20)
    if not chunk:
        raise ConnectionError("the server closed the connection")
    return chunk


def drive(port: int, requests: list[bytes], into: Load, lock: threading.Lock, go: threading.Event) -> None:
    """Sends `requests` one after another on one connection, timing each."""
    latencies, statuses, pending = [], [], bytearray()
    go.wait()
    started = time.perf_counter()
    # Connected only now: the server closes a connection idle for a few seconds (uvicorn's
    # keep-alive timeout), and the processes may wait that long for each other to be ready.
    conn = socket.create_connection(("127.0.0.1", port))
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for message in requests:
        sent = time.perf_counter()
        conn.sendall(message)
        status, pending = answer(conn, pending)
        latencies.append(time.perf_counter() - sent)
        statuses.append(status)
    ended = time.perf_counter()
    conn.close()
    with lock:
        into.add(Load(latencies, statuses, started, ended))


def serve_work() -> None:
    """The child's side: read the work, connect, say ready, run when told, answer the Load."""
    port, connections = pickle.load(sys.stdin.buffer)
    found, lock, go = Load(), threading.Lock(), threading.Event()
    threads = [threading.Thread(target=drive, args=(port, work, found, lock, go)) for work in connections]
    for thread in threads:
        thread.start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    cpu = time.process_time()
    go.set()
    for thread in threads:
        thread.join()
    found.cpu_seconds = time.process_time() - cpu
    # Plain values: this module is __main__ here, so a pickled Load would not load there.
    pickle.dump((found.latencies, found.statuses, found.started, found.ended, found.cpu_seconds), sys.stdout.buffer)
    sys.stdout.flush()


def generate(port: int, connections: list[list[bytes]], processes: int = 2) -> Load:
    """Runs each list of requests on a connection of its own, the connections spread over
    `processes` processes; every connection starts at once. Monotonic clocks are shared by
    the processes of one machine, so their spans add up to the run's."""
    children = []
    for share in range(processes):
        child = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.load"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        assert child.stdin is not None and child.stdout is not None
        pickle.dump((port, connections[share::processes]), child.stdin)
        child.stdin.flush()
        children.append(child)
    for child in children:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    for child in children:
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        child.stdin.flush()
    total = Load()
    for child in children:
        assert child.stdout is not None
        total.add(Load(*pickle.load(child.stdout)))
        child.wait(timeout=60)
    return total


if __name__ == "__main__":
    serve_work()
