"""3-D Secure: the WAITING answer, the ACS pages driven by an HTTP client, and complete_authorize."""

from __future__ import annotations

import json

import pytest
import requests

from connectors.base import Flow
from connectors.errors import ConnectorBadRequest, ConnectorDeclined
from connectors.testing.forms import read_form
from connectors.testing.simulator import Request, SimulatorApp, SimulatorServer, html_response, route

from .conftest import after, payment

CHALLENGE_2 = "4000000000003220"
CHALLENGE_1 = "4000000000003063"


class ReturnReceiver(SimulatorApp):
    """Stands in for Pagoflex's return endpoint: keeps what the customer's browser posts."""

    def __init__(self):
        super().__init__()
        self.posted: list[dict] = []

    @route("POST", "/return")
    def customer_return(self, request: Request):
        self.posted.append(request.form())
        return html_response("<p>Thanks, back at the shop.</p>")


@pytest.fixture(scope="module")
def _shop_server():
    receiver = ReturnReceiver()
    with SimulatorServer(receiver) as base_url:
        receiver.return_url = f"{base_url}/return"
        yield receiver


@pytest.fixture
def shop(_shop_server):
    _shop_server.posted.clear()
    yield _shop_server
    _shop_server.settle()  # a browser post of this test cannot land in the next one


def customer_authenticates(next_action, code: str) -> None:
    """What the customer's browser does: auto-post to the ACS, answer the challenge, return."""
    browser = requests.Session()
    assert next_action.type == "redirect_to_url" and next_action.data["method"] == "POST"
    challenge = browser.post(next_action.url, data=next_action.data["form"])
    action, fields = read_form(challenge)
    fields["otp"] = code
    back_to_shop, returned = read_form(browser.post(action, data=fields))
    assert browser.post(back_to_shop, data=returned).status_code == 200


def start(connector, shop, card=CHALLENGE_2, **fields):
    data = payment(card=card, return_url=shop.return_url, three_ds=True, **fields)
    result = connector.call(Flow.AUTHORIZE, data)
    return after(data, result), result


def test_a_challenge_becomes_authentication_pending_with_the_acs_form(connector, shop):
    data, result = start(connector, shop)
    assert result.status == "authentication_pending"
    assert (result.amount, result.currency) == (1204, "EUR")
    assert result.next_action.url.endswith("/acs/challenge")
    assert set(result.next_action.data["form"]) == {"creq", "threeDSSessionData"}
    sent = json.loads(connector.calls[-1].request_body)["authenticationRequest"]
    assert sent == {
        "authenticationType": "Secure3D21AuthenticationRequest",
        "termURL": shop.return_url,
        "challengeIndicator": "01",
    }


def test_full_3ds2_round_trip_charges_the_payment(connector, gateway, shop):
    data, result = start(connector, shop)
    customer_authenticates(result.next_action, "1234")
    assert set(shop.posted[0]) == {"cres", "threeDSSessionData"}
    data.redirect_params = shop.posted[0]
    done = connector.call(Flow.COMPLETE_AUTHORIZE, data)
    assert (done.status, done.amount, done.connector_reference) == ("charged", 1204, data.connector_reference)
    assert connector.calls[-1].method == "PATCH"
    assert json.loads(connector.calls[-1].request_body)["authenticationType"] == "Secure3D21AuthenticationUpdateRequest"
    assert gateway.app.transactions[data.connector_reference].state == "CAPTURED"


def test_3ds_on_a_pre_auth_ends_authorized(connector, shop):
    data, result = start(connector, shop, capture_method="manual")
    customer_authenticates(result.next_action, "1234")
    data.redirect_params = shop.posted[0]
    assert connector.call(Flow.COMPLETE_AUTHORIZE, data).status == "authorized"


def test_full_3ds1_round_trip_posts_pareq_md_and_term_url(connector, shop):
    data, result = start(connector, shop, card=CHALLENGE_1)
    form = result.next_action.data["form"]
    assert set(form) == {"PaReq", "MD", "TermUrl"} and form["TermUrl"] == shop.return_url
    customer_authenticates(result.next_action, "1234")
    assert set(shop.posted[0]) == {"PaRes", "MD"} and shop.posted[0]["MD"] == form["MD"]
    data.redirect_params = shop.posted[0]
    assert connector.call(Flow.COMPLETE_AUTHORIZE, data).status == "charged"
    # Secure3D10AuthenticationUpdateRequest carries PaRes and MD in its own published fields.
    sent = json.loads(connector.calls[-1].request_body)
    assert sent["authenticationType"] == "Secure3D10AuthenticationUpdateRequest" and "acsResponse" not in sent
    assert sent["merchantData"] == form["MD"] and sent["payerAuthenticationResponse"] == shop.posted[0]["PaRes"]


def test_a_failed_challenge_declines_the_payment(connector, gateway, shop):
    data, result = start(connector, shop)
    customer_authenticates(result.next_action, "0000")
    data.redirect_params = shop.posted[0]
    with pytest.raises(ConnectorDeclined) as caught:
        connector.call(Flow.COMPLETE_AUTHORIZE, data)
    assert caught.value.decline_code == "N7"
    assert gateway.app.transactions[data.connector_reference].status == "DECLINED"


def test_a_forged_successful_cres_does_not_authenticate(connector, shop):
    from connectors.authipay import acs

    data, result = start(connector, shop)
    creq = acs.decode(result.next_action.data["form"]["creq"])
    forged = acs.encode({"acsTransID": creq["acsTransID"], "messageType": "CRes", "transStatus": "Y"})
    data.redirect_params = {"cres": forged}
    with pytest.raises(ConnectorDeclined):
        connector.call(Flow.COMPLETE_AUTHORIZE, data)


def test_psync_while_the_customer_is_at_the_acs_is_authentication_pending(connector, shop):
    data, _ = start(connector, shop)
    assert connector.call(Flow.PSYNC, data).status == "authentication_pending"


def test_the_gateway_requires_a_challenge_even_when_pagoflex_did_not_ask_for_3ds(connector, shop):
    data = payment(card=CHALLENGE_2, return_url=shop.return_url, three_ds=False)
    result = connector.call(Flow.AUTHORIZE, data)
    assert result.status == "authentication_pending" and result.next_action is not None
    assert json.loads(connector.calls[-1].request_body)["authenticationRequest"]["challengeIndicator"] == "02"


def test_a_frictionless_card_is_charged_at_once_when_3ds_is_asked_for(connector, shop):
    result = connector.call(Flow.AUTHORIZE, payment(return_url=shop.return_url, three_ds=True))
    assert result.status == "charged" and result.next_action is None


def test_without_a_return_url_a_card_requiring_3ds_is_declined(connector):
    with pytest.raises(ConnectorDeclined) as caught:
        connector.call(Flow.AUTHORIZE, payment(card=CHALLENGE_2))
    assert caught.value.decline_code == "1A"
    assert "authenticationRequest" not in json.loads(connector.calls[-1].request_body)


def test_completing_without_the_acs_answer_is_refused_before_sending(connector, shop):
    data, _ = start(connector, shop)
    sent = len(connector.calls)
    data.redirect_params = {"something": "else"}
    with pytest.raises(ConnectorBadRequest):
        connector.call(Flow.COMPLETE_AUTHORIZE, data)
    assert len(connector.calls) == sent


def test_completing_twice_reports_the_same_outcome(connector, shop):
    data, result = start(connector, shop)
    customer_authenticates(result.next_action, "1234")
    data.redirect_params = shop.posted[0]
    assert connector.call(Flow.COMPLETE_AUTHORIZE, data).status == "charged"
    assert connector.call(Flow.COMPLETE_AUTHORIZE, data).status == "charged"
