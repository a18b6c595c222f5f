"""Masking is declared per connector and guarded by value (issue 16, item 4).

Field-name rules miss a bank's own names (``cardCode``, ``cvv_code``, ``card[cvc]``) and secrets
that are not card fields (Authipay's ``paymentToken.value``, which charges the card again). So:
each adapter names its secret fields; the names are normalised; and the values a flow carries
(its card number, CVC, token) and the account's credentials are masked wherever they appear,
whatever field holds them, in the call log, the admin and the log lines.
"""

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings

from connectors import registry
from connectors.base import Card, Connector, CredentialField, Flow, PaymentData
from connectors.http import HttpExecutor
from connectors.masking import MASK, MaskingFormatter, mask_declared_fields, mask_text
from payments.admin.timeline import pretty_body

PAN = "4111111111111111"
CVC = "737"
TOKEN = "C0BB9DBB0E68A9EC608836AF81101C73"


@pytest.mark.parametrize("name", ["cardCode", "cvv_code", "card[cvc]", "card%5Bcvc%5D", "card.cvc", "CVV2",
                                  "securityCode", "card_security_code", "shopperCvvValue", "cvc2"])
def test_card_code_fields_are_masked_by_any_of_their_names(name):
    as_json = mask_text(json.dumps({name: "4821", "amount": 4821}))
    as_form = mask_text(f"amount=1050&{name}=4821&currency=EUR")
    assert "4821" not in as_json.replace('"amount": 4821', "")
    assert f"{name}=4821" not in as_form and "amount=1050" in as_form


def test_authipay_declares_its_token_and_the_token_is_masked_wherever_it_is_echoed():
    registry.autodiscover()
    assert "paymentToken.value" in registry.get_connector_class("authipay").secret_fields
    body = json.dumps({"paymentMethod": {"paymentToken": {"value": TOKEN, "reusable": True}},
                       "message": f"token {TOKEN} was used"})
    for text in (mask_text(body), mask_declared_fields(body), pretty_body(body, logged=True)):
        assert TOKEN not in text
    assert json.loads(mask_text(body))["paymentMethod"]["paymentToken"] == {"value": MASK, "reusable": True}


def test_every_connector_that_tokenizes_declares_its_secret_fields():
    """The next connector that hands out card tokens must say where they are."""
    registry.autodiscover()
    tokenizing = [cls for cls in registry.all_connectors() if cls.supports(Flow.TOKENIZE)]
    assert tokenizing  # Authipay at least
    assert [cls.key for cls in tokenizing if not cls.secret_fields] == []


class EchoBank:
    """A bank on loopback that answers every request with its body under names no rule knows."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                sent = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                answer = json.dumps({"status": "ok", "echo": {"kartennummer": sent["karte"]["nummer"],
                                                               "pruefziffer": sent["karte"]["pruef"],
                                                               "jeton": sent["jeton"]},
                                     "note": f"card {sent['karte']['nummer']} with {sent['jeton']}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Echo-Key", self.headers.get("X-Schluessel", ""))
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class StrangeNamesConnector(Connector):
    """A bank whose field names no masking rule knows (not registered)."""

    key = "strange_names_test"
    credential_fields = (CredentialField("schluessel", "Key"),)

    def build_authorize(self, data):
        body = {"karte": {"nummer": data.card.number, "pruef": data.card.cvc}, "jeton": data.payment_token}
        return self.json_request("POST", "/pay", body, headers={"X-Schluessel": self.credentials["schluessel"]})

    def handle_authorize(self, data, response):
        raise AssertionError("not reached in this test")


@pytest.fixture
def echo_bank():
    bank = EchoBank()
    yield bank
    bank.stop()


def test_a_flows_own_card_number_cvc_token_and_credentials_are_masked_wherever_they_appear(echo_bank, caplog):
    connector = StrangeNamesConnector({"schluessel": "k3y-geheim-0001"}, base_url=echo_bank.url, http=HttpExecutor())
    data = PaymentData(payment_id="pay_1", attempt_reference="att_1", amount=1050, currency="EUR",
                       card=Card(number=PAN, exp_month=12, exp_year=2034, cvc=CVC), payment_token=TOKEN)
    request = connector.build_request(Flow.AUTHORIZE, data)
    connector.flow_secrets = [PAN, CVC, TOKEN]  # what Connector.call sets for the flow it runs
    connector.execute_request(request, Flow.AUTHORIZE)
    connector.flow_secrets = []

    [record] = connector.calls
    logged = json.dumps(vars(record))
    for secret in (PAN, TOKEN, "k3y-geheim-0001"):
        assert secret not in logged
    assert json.loads(record.request_body)["karte"] == {"nummer": "************1111", "pruef": MASK}
    assert json.loads(record.response_body)["echo"]["pruefziffer"] == MASK
    assert record.response_headers["X-Echo-Key"] == MASK


def test_connector_call_sets_the_flow_secrets_and_clears_them(echo_bank):
    connector = StrangeNamesConnector({"schluessel": "k3y-geheim-0002"}, base_url=echo_bank.url, http=HttpExecutor())
    data = PaymentData(payment_id="pay_2", attempt_reference="att_2", amount=1050, currency="EUR",
                       card=Card(number=PAN, exp_month=12, exp_year=2034, cvc=CVC), payment_token=TOKEN)
    with pytest.raises(AssertionError, match="not reached"):
        connector.call(Flow.AUTHORIZE, data)

    [record] = connector.calls
    assert PAN not in json.dumps(vars(record)) and TOKEN not in json.dumps(vars(record))
    assert '"pruef": "********"' in record.request_body.replace('":"', '": "')
    assert connector.flow_secrets == [] and connector.secret_values() == ["k3y-geheim-0002"]


def test_log_lines_are_masked_by_every_configured_handler():
    formatters = settings.LOGGING["formatters"]
    assert {"plain", "json"} <= set(formatters)  # every LOG_FORMAT a handler may use
    assert all(formatter.get("()") == "connectors.masking.MaskingFormatter" for formatter in formatters.values())
    json_lines = MaskingFormatter(**{k: v for k, v in formatters["json"].items() if k != "()"})
    record = logging.LogRecord("bank", logging.WARNING, __file__, 1, "bank said %s for card %s: %s", None, None)
    record.args = ("declined", PAN, json.dumps({"paymentToken": {"value": TOKEN}}))
    line = MaskingFormatter("%(levelname)s %(message)s").format(record)
    assert PAN not in line and TOKEN not in line and "1111" in line and line.startswith("WARNING bank said")
    record.request_id = "req_1"
    as_json = json.loads(json_lines.format(record))
    assert PAN not in as_json["message"] and "1111" in as_json["message"] and as_json["level"] == "WARNING"


@pytest.mark.plants_secrets  # a row as an older version logged it, card number included
def test_the_call_log_admin_masks_a_token_logged_before_the_rule_existed(sandbox_account, db):
    from django.contrib.auth.models import User
    from django.test import Client

    from connectors.models import ConnectorCall

    call = ConnectorCall.objects.create(
        connector_account=sandbox_account, flow="authorize", method="POST", url="https://bank.example/pay",
        request_headers={"Content-Type": "application/json"},
        request_body=json.dumps({"paymentMethod": {"paymentToken": {"value": TOKEN}}}),
        response_body=json.dumps({"note": f"card {PAN} charged"}), status_code=200)
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw-0123456789"))

    page = client.get(f"/admin/connectors/connectorcall/{call.pk}/change/").content.decode()

    assert TOKEN not in page and PAN not in page and "1111" in page and "paymentToken" in page
