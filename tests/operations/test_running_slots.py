"""Running slots (connectors/waiting.py, pagoflex/wsgi.py): at most N requests of a process run at
once, and a request gives its slot up while it waits on a bank or on its client's body.

The production server end to end with one slot per process (as shipped) is in
test_production_server.py: eight payments against a bank slow by 1.5 s end together, a payment
goes through while slow clients are still sending their bodies, and the slot waits are counted."""

import io
import threading
import time

import pytest
from django.db import transaction
from prometheus_client import REGISTRY

from connectors import waiting
from connectors.base import Flow
from connectors.waiting import RunningSlots, waiting_outside
from pagoflex.wsgi import RunningSlotsApplication

WAIT = 10  # seconds a step that must happen is given; the machine may be busy


def holding(slots: RunningSlots, entered: threading.Event, leave: threading.Event):
    """A thread that takes a slot, says so, and holds it until told to leave (however long the
    test takes to say so: a busy machine must not change the order of events)."""
    def run():
        with slots.running():
            entered.set()
            leave.wait()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_request_waits_for_a_slot_and_gets_the_one_a_waiting_request_gave_up():
    slots = RunningSlots(1)
    first_in, first_waits, first_may_go_on, first_back = (threading.Event() for _ in range(4))
    second_in, second_leave = threading.Event(), threading.Event()

    def first():
        with slots.running():
            first_in.set()
            with slots.waiting():  # what a bank call does
                first_waits.set()
                first_may_go_on.wait()
            first_back.set()

    thread = threading.Thread(target=first, daemon=True)
    thread.start()
    assert first_in.wait(WAIT)
    assert first_waits.wait(WAIT)
    second = holding(slots, second_in, second_leave)
    assert second_in.wait(WAIT)  # the slot the waiting request gave up
    first_may_go_on.set()
    assert not first_back.wait(0.3)  # back from the bank, the first waits for a slot again
    second_leave.set()
    assert first_back.wait(WAIT)
    thread.join(WAIT)
    second.join(WAIT)
    assert slots.free() == 1  # every slot given back


def test_no_more_than_the_slots_run_at_once():
    slots = RunningSlots(2)
    leave = threading.Event()
    entered = [threading.Event() for _ in range(3)]
    threads = [holding(slots, event, leave) for event in entered[:2]]
    assert all(event.wait(WAIT) for event in entered[:2])
    threads.append(holding(slots, entered[2], leave))
    assert not entered[2].wait(0.3)
    leave.set()
    assert entered[2].wait(WAIT)
    for thread in threads:
        thread.join(WAIT)


def wait_for_line(slots: RunningSlots, length: int) -> None:
    for _ in range(int(WAIT / 0.01)):
        if slots.waiting_in_line() == length:
            return
        threading.Event().wait(0.01)
    assert slots.waiting_in_line() == length


def test_a_freed_slot_goes_to_the_request_that_waited_longest_even_when_another_arrives_then():
    slots = RunningSlots(1)
    leave, entered = threading.Event(), threading.Event()
    holder = holding(slots, entered, leave)
    assert entered.wait(WAIT)
    order, lock = [], threading.Lock()
    done = [threading.Event() for _ in range(3)]

    def ask(name, event):
        with slots.running():
            with lock:
                order.append(name)
        event.set()

    for index, name in enumerate(["first", "second", "third"]):
        threading.Thread(target=ask, args=(name, done[index]), daemon=True).start()
        wait_for_line(slots, index + 1)  # queued before the next one asks
    leave.set()
    with slots.running():  # arriving as the slot is freed: behind the three, not before them
        with lock:
            order.append("late")
    assert all(event.wait(WAIT) for event in done)
    holder.join(WAIT)
    assert order == ["first", "second", "third", "late"]
    assert slots.free() == 1


def test_a_request_back_from_its_bank_runs_before_requests_that_arrived_while_it_waited():
    slots = RunningSlots(1)
    order, lock = [], threading.Lock()
    in_bank, bank_answered, back = threading.Event(), threading.Event(), threading.Event()

    def payment():
        with slots.running():
            with slots.waiting():
                in_bank.set()
                bank_answered.wait()
            with lock:
                order.append("back from the bank")
        back.set()

    def arrival(name, done):
        with slots.running():
            with lock:
                order.append(name)
        done.set()

    threading.Thread(target=payment, daemon=True).start()
    assert in_bank.wait(WAIT)
    leave, entered = threading.Event(), threading.Event()
    holder = holding(slots, entered, leave)  # a request that took the slot the payment gave up
    assert entered.wait(WAIT)
    arrived = threading.Event()
    threading.Thread(target=arrival, args=("arrived while it waited", arrived), daemon=True).start()
    wait_for_line(slots, 1)
    bank_answered.set()
    wait_for_line(slots, 2)  # the payment, back, is in line behind the newcomer
    leave.set()
    assert back.wait(WAIT) and arrived.wait(WAIT)
    holder.join(WAIT)
    assert order == ["back from the bank", "arrived while it waited"]


def test_a_slot_given_back_twice_is_an_error_not_an_extra_slot():
    slots = RunningSlots(1)
    with slots.running():
        pass
    with pytest.raises(RuntimeError, match="given back twice"):
        slots._release()
    assert slots.free() == 1


def test_a_thread_without_a_slot_only_gives_its_connection_back():
    slots = RunningSlots(1)
    leave, entered = threading.Event(), threading.Event()
    holder = holding(slots, entered, leave)
    assert entered.wait(WAIT)
    with slots.waiting():  # a Celery task or a probe: no slot to give, none taken after
        assert not slots.held()
    assert not slots.held()
    leave.set()
    holder.join(WAIT)


@pytest.mark.django_db(transaction=True)  # the test itself outside any transaction
def test_inside_a_transaction_the_slot_is_kept_so_a_row_lock_never_waits_for_one(caplog):
    slots = RunningSlots(1)
    kept_before = REGISTRY.get_sample_value("pagoflex_running_slot_kept_total", {"reason": "in_transaction"}) or 0.0
    with slots.running():
        with transaction.atomic():
            with slots.waiting():
                assert slots.held() and slots.free() == 0
        with slots.waiting():
            assert not slots.held() and slots.free() == 1  # given up: another request could take it
        assert slots.held() and slots.free() == 0
    # Kept, and said: the process's other requests waited this one's wait out.
    assert REGISTRY.get_sample_value("pagoflex_running_slot_kept_total", {"reason": "in_transaction"}) == kept_before + 1
    [warning] = [r for r in caplog.records if r.name == "pagoflex.serving"]
    assert "inside a database transaction keeps its running slot" in warning.getMessage()
    assert "test_inside_a_transaction" in warning.stack_info  # names the code that did it


def test_a_process_needs_at_least_one_slot():
    with pytest.raises(ValueError, match="at least one running slot"):
        RunningSlots(0)


def test_waiting_outside_gives_up_the_installed_slot(monkeypatch):
    slots = RunningSlots(1)
    monkeypatch.setattr(waiting, "_slots", slots)
    with slots.running():
        with waiting_outside():
            assert not slots.held()
        assert slots.held()
    monkeypatch.setattr(waiting, "_slots", None)
    with waiting_outside():  # no server installed slots: nothing to give up
        pass


class Recorder:
    """A WSGI application that notes whether it ran holding a slot and whether it read its body
    holding one."""

    def __init__(self, slots):
        self.slots, self.seen = slots, {}

    def __call__(self, environ, start_response):
        self.seen["running"] = self.slots.held()
        stream = environ["wsgi.input"]
        original_read = stream._stream.read

        def read(*args):
            self.seen["reading"] = self.slots.held()
            return original_read(*args)

        stream._stream.read = read
        self.seen["body"] = stream.read()
        start_response("200 OK", [])
        return [b"ok"]


def environ(path, method="POST", body=b'{"amount": 1}'):
    return {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(body)}


def test_a_request_runs_holding_a_slot_and_reads_its_body_without_one(monkeypatch):
    slots = RunningSlots(1)
    monkeypatch.setattr(waiting, "_slots", slots)
    inner = Recorder(slots)
    application = RunningSlotsApplication(inner, slots)
    assert application(environ("/v1/payments"), lambda *a: None) == [b"ok"]
    assert inner.seen == {"running": True, "reading": False, "body": b'{"amount": 1}'}
    assert not slots.held()


@pytest.mark.parametrize("path", ["/healthz", "/readyz/", "/metrics"])
def test_probes_and_scrapes_are_answered_without_a_slot(monkeypatch, path):
    slots = RunningSlots(1)
    monkeypatch.setattr(waiting, "_slots", slots)
    seen = {}

    def inner(environ, start_response):
        seen["running"] = slots.held()
        return [b"ok"]

    leave, entered = threading.Event(), threading.Event()
    holder = holding(slots, entered, leave)  # the process's only slot is busy
    assert entered.wait(WAIT)
    try:
        assert RunningSlotsApplication(inner, slots)(environ(path, method="GET", body=b""), None) == [b"ok"]
        assert seen == {"running": False}
        # The same path by another method is an ordinary request: it waits for the slot.
        answered = threading.Event()
        threading.Thread(target=lambda: (RunningSlotsApplication(inner, slots)(environ(path), None),
                                         answered.set()), daemon=True).start()
        assert not answered.wait(0.3)
    finally:
        leave.set()
        holder.join(WAIT)
    assert answered.wait(WAIT)


@pytest.mark.django_db(transaction=True)  # outside a transaction, where bank calls are made
def test_a_bank_call_made_outside_run_flow_gives_the_slot_up_too(monkeypatch, sandbox_account):
    """Saving a card calls its connector directly (payments/services/payment_methods.py), not
    through run_flow: the slot is given up in the HTTP executor every bank call goes through."""
    slots = RunningSlots(1)
    monkeypatch.setattr(waiting, "_slots", slots)
    connector = sandbox_account.build_connector()
    ran, done = threading.Event(), threading.Event()

    def another_request():
        with slots.running():
            ran.set()
        done.set()

    with slots.running():
        threading.Thread(target=another_request, daemon=True).start()
        wait_for_line(slots, 1)
        connector.call(Flow.CHECK_CONNECTION, None)
        # The other request took the slot while the bank answered, and gave it back.
        assert ran.is_set()
        assert connector.calls[-1].status_code == 200
    assert done.wait(WAIT)


@pytest.mark.django_db(transaction=True)
def test_the_call_log_latency_is_the_banks_not_the_wait_for_a_slot_after_it(monkeypatch, sandbox_account):
    """While the bank answers, another request takes the slot, and keeps it for a second after the
    call is back in line for it; the call's latency in the log is the bank's time, not that second."""
    slots = RunningSlots(1)
    monkeypatch.setattr(waiting, "_slots", slots)
    connector = sandbox_account.build_connector()
    took_it, keep_for = threading.Event(), 1.0

    def slow_request():
        with slots.running():
            took_it.set()
            wait_for_line(slots, 1)  # the bank has answered: the call waits for the slot again
            threading.Event().wait(keep_for)

    with slots.running():
        threading.Thread(target=slow_request, daemon=True).start()
        wait_for_line(slots, 1)
        started = time.monotonic()
        connector.call(Flow.CHECK_CONNECTION, None)
        elapsed = time.monotonic() - started
    assert took_it.is_set()
    assert elapsed >= keep_for  # the call came back only once the other request gave the slot up
    assert connector.calls[-1].latency_ms <= (elapsed - keep_for) * 1000


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", ["create", "update"])
def test_a_webhook_url_is_resolved_without_the_slot_and_outside_the_row_lock(monkeypatch, merchant, change):
    """Checking a webhook endpoint's URL resolves its host: a wait on DNS that a merchant can stretch
    to the resolver's timeout. It is waited on like a bank: no slot, no transaction."""
    from webhooks import delivery_http, endpoints

    slots = RunningSlots(1)
    monkeypatch.setattr(waiting, "_slots", slots)
    seen = []

    def resolving(url):
        seen.append({"slot held": slots.held(), "in a transaction": transaction.get_connection().in_atomic_block})
        return url

    monkeypatch.setattr(delivery_http, "check_url", resolving)
    with slots.running():
        endpoint, _ = endpoints.create_endpoint(merchant=merchant, mode="test", url="https://hooks.example.com/a",
                                                enabled_events=["payment.succeeded"])
        if change == "update":
            seen.clear()
            endpoints.update_endpoint(endpoint_pk=endpoint.pk, url="https://hooks.example.com/b")
        assert slots.held()
    assert seen == [{"slot held": False, "in a transaction": False}]


def test_the_database_connection_goes_back_before_the_answer_is_sent(monkeypatch):
    """pagoflex/wsgi.py: a client that reads a large answer slowly must not keep a pooled
    connection (test_production_server.py shows the pool emptied without it)."""
    from pagoflex import wsgi

    released = []
    monkeypatch.setattr(wsgi, "release_database_connection", lambda: released.append("released"))

    def django(environ, start_response):
        start_response("200 OK", [])
        return iter([b"a large answer"])

    application = wsgi.ConnectionReturnedBeforeSending(django)
    answer = application(environ("/v1/payments", method="GET", body=b""), lambda *a: None)
    assert released == ["released"]  # before a byte of the answer was taken from the iterator
    assert list(answer) == [b"a large answer"]


def test_a_streaming_answer_keeps_its_connection_until_it_is_sent(monkeypatch):
    """Its iterator may read from a cursor on that connection."""
    from django.http import StreamingHttpResponse

    from pagoflex import wsgi

    released = []
    monkeypatch.setattr(wsgi, "release_database_connection", lambda: released.append("released"))
    application = wsgi.ConnectionReturnedBeforeSending(lambda environ, start_response: StreamingHttpResponse(
        iter([b"row 1", b"row 2"])))
    answer = application(environ("/admin/export", method="GET", body=b""), lambda *a: None)
    assert released == []
    assert b"".join(answer) == b"row 1row 2"
