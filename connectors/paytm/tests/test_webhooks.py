"""Paytm's S2S notification and the customer's return, signed with the form checksum."""

from urllib.parse import urlencode

from connectors.base import Flow
from connectors.paytm.adapter import PaytmConnector, verify_return_params
from payments.statuses import AttemptStatus

from .conftest import KEY, MID, authorize, control, payment


def _notification(sim, receiver, data):
    control(sim, "notification-url", {"url": f"{receiver.base_url}/webhooks/paytm"})
    authorize_result = authorize(
        PaytmConnector(
            credentials={"merchant_id": MID, "merchant_key": KEY, "website": "WEBSTAGING"}, base_url=sim.base_url
        ),
        data,
    )
    return authorize_result


def test_paid_intent_sends_a_signed_notification_the_adapter_accepts(connector, sim, receiver):
    data = payment("intent", amount=1050)
    _notification(sim, receiver, data)
    control(sim, f"orders/{data.attempt_reference}/pay")
    assert receiver.app.arrived.wait(5), "no S2S notification arrived"
    request = receiver.app.received[0]
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert connector.verify_webhook(headers=headers, body=request.body)
    event = connector.parse_webhook(headers=headers, body=request.body)
    assert (event.status, event.amount, event.currency) == (AttemptStatus.CHARGED, 1050, "INR")
    assert event.attempt_reference == data.attempt_reference
    assert event.connector_reference == data.connector_reference
    assert event.event_id == f"paytm:{data.attempt_reference}:TXN_SUCCESS:{data.connector_reference}"
    assert connector.call(Flow.PSYNC, data).status == AttemptStatus.CHARGED


def test_redelivered_notification_has_the_same_event_id(connector, sim, receiver):
    data = payment("collect", vpa="fail@paytm")
    _notification(sim, receiver, data)
    assert receiver.app.arrived.wait(5)
    body = receiver.app.received[0].body
    first = connector.parse_webhook(headers={}, body=body)
    assert first.event_id == connector.parse_webhook(headers={}, body=body).event_id
    assert (first.status, first.code) == (AttemptStatus.FAILURE, "227")


def test_notification_with_a_tampered_field_is_rejected(connector, sim, receiver):
    data = payment("collect", vpa="success@paytm", amount=1050)
    _notification(sim, receiver, data)
    assert receiver.app.arrived.wait(5)
    body = receiver.app.received[0].body
    assert connector.verify_webhook(headers={}, body=body)
    assert not connector.verify_webhook(headers={}, body=body.replace(b"TXNAMOUNT=10.50", b"TXNAMOUNT=1.50"))
    assert not connector.verify_webhook(headers={}, body=body.replace(b"STATUS=TXN_SUCCESS", b"STATUS=TXN_FAILURE"))
    assert not connector.verify_webhook(headers={}, body=body + b"&STATUS=TXN_SUCCESS")


def test_notification_for_another_merchant_or_key_is_rejected(connector, sim):
    data = payment("intent")
    authorize(connector, data)
    fields = control(sim, f"orders/{data.attempt_reference}/pay")["callback"]["fields"]
    body = urlencode(fields).encode()
    other_key = PaytmConnector(credentials={"merchant_id": MID, "merchant_key": KEY[::-1], "website": "W"})
    other_mid = PaytmConnector(credentials={"merchant_id": "OTHERMID", "merchant_key": KEY, "website": "W"})
    assert connector.verify_webhook(headers={}, body=body)
    assert not other_key.verify_webhook(headers={}, body=body)
    assert not other_mid.verify_webhook(headers={}, body=body)
    assert not connector.verify_webhook(headers={}, body=b"\xff\xfe")


def test_customer_return_form_is_verified_but_a_changed_status_is_not(connector, sim):
    data = payment("intent")
    authorize(connector, data)
    callback = control(sim, f"orders/{data.attempt_reference}/decline")["callback"]
    assert callback["url"] == data.return_url
    fields = callback["fields"]
    assert connector.verify_customer_return(fields)
    assert verify_return_params(fields, merchant_id=MID, merchant_key=KEY)
    assert not connector.verify_customer_return({**fields, "STATUS": "TXN_SUCCESS"})
