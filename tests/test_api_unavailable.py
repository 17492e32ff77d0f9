"""PostgreSQL going away under a running API: requests answer 503 `unavailable` (not a hang,
not a 500) and the API recovers by itself when the database is back.

A small TCP proxy sits between the app and PostgreSQL, so the test can cut every connection
and refuse new ones, then let them through again.

Measured with eventsourcing 9.5.6: its PostgreSQL recorder retries a failed statement 10 times,
0.2 s apart, and each attempt waits up to the pool's timeout (the URL's `connect_timeout`) for a
connection, so a request caught by the cut can take 10 × 2.2 s. The service therefore probes the
database once a second (`StoreWatch`) and, once it has seen it down, refuses at once."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from ledger.application import HourLedger
from ledger.persistence import persistence_env
from tests.api_client import Api, assert_created, assert_problem, deposit, organization, volunteer
from tests.conftest import POSTGRES_URL, PostgresSchema, require_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# A request caught by the cut is answered within this (see ledger/postgres_recorder.py)...
ANSWER_WITHIN = 3.0
# ...and once the probe has seen the database down (within NOTICED_WITHIN), within this.
NOTICED_WITHIN = 5.0
REFUSED_WITHIN = 1.0
RECOVER_WITHIN = 60.0


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


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_database_that_goes_away_answers_503_and_comes_back(behind_proxy: tuple[Api, Proxy]) -> None:
    api, proxy = behind_proxy
    org = assert_created(api.admin.post("/v1/organizations", organization()))["id"]
    person = assert_created(api.admin.post("/v1/volunteers", volunteer(organization_id=org)))["id"]
    assert_created(api.admin.post(f"/v1/volunteers/{person}/timebank"))
    assert api.admin.get(f"/v1/volunteers/{person}").status_code == 200

    proxy.cut()

    read, seconds = timed(lambda: api.admin.get(f"/v1/volunteers/{person}"))
    assert_problem(read, 503, "unavailable")
    assert seconds < ANSWER_WITHIN
    deadline = time.monotonic() + NOTICED_WITHIN
    while not api.ledger.store_health.down:
        assert time.monotonic() < deadline, "the probe did not notice the database going away"
        time.sleep(0.05)
    lost = deposit(person, org, 30)
    write, seconds = timed(lambda: api.admin.post("/v1/transactions", lost))
    assert_problem(write, 503, "unavailable")
    assert seconds < REFUSED_WITHIN
    for path in (f"/v1/volunteers/{person}", f"/v1/volunteers/{person}/balance", "/v1/stats/summary"):
        answer, seconds = timed(lambda: api.admin.get(path))
        assert_problem(answer, 503, "unavailable")
        assert seconds < REFUSED_WITHIN, path
    # Liveness does not need the database.
    health, seconds = timed(lambda: api.anonymous.get("/healthz"))
    assert health.status_code == 200 and seconds < 2

    proxy.open()

    deadline = time.monotonic() + RECOVER_WITHIN
    while (answer := api.admin.get(f"/v1/volunteers/{person}")).status_code != 200:
        assert_problem(answer, 503, "unavailable")
        assert time.monotonic() < deadline, f"not recovered within {RECOVER_WITHIN} s"
    # The write refused during the outage was not recorded; sent again, it is.
    assert_problem(api.admin.get(f"/v1/transactions/{lost['id']}"), 404, "not_found")
    assert_created(api.admin.post("/v1/transactions", lost))
    assert api.balance(person)["timebank"]["balance_minutes"] == 30
