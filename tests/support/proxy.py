"""A small TCP proxy between the API and PostgreSQL, so that a test can cut every connection
and refuse new ones, then let them through again; and `behind_proxy`, a fixture: an API whose
store is reached through one."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from ledger.application import HourLedger
from ledger.persistence import persistence_env
from tests.conftest import POSTGRES_URL, PostgresSchema, require_postgres
from tests.support.api_client import Api


class Proxy:
    """Forwards 127.0.0.1:<port> to PostgreSQL until cut; can be opened again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.open()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        """Refuses new connections and breaks every open one."""
        # Shut down first: closing alone does not wake a thread blocked in accept().
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


@pytest.fixture
def behind_proxy() -> Iterator[tuple[Api, Proxy]]:
    require_postgres()
    schema = PostgresSchema()
    host_port = POSTGRES_URL.split("@", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    proxy = Proxy((host, int(port or 5432)))
    url = f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres?schema={schema.name}"
    ledger = HourLedger(env=persistence_env(url))
    try:
        api = Api(ledger)
        with api.client:
            yield api, proxy
    finally:
        ledger.close()
        proxy.cut()
        schema.drop()
