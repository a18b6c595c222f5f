"""Only someone who knows an account's secrets can change where they are sent (issue 16, item 6).

The attack: an Operations user sets the base URL override to a listener of theirs and presses
*Check connection*; the stored credentials arrive in the headers. A real HTTP listener on
loopback records every request it gets: it must get no stored secret.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from connectors.models import ConnectorAccount
from tests.admin.test_connector_accounts import add_form, change_url
from tests.helpers import SANDBOX_API_KEY, SANDBOX_WEBHOOK_SECRET


class Listener:
    """The attacker's endpoint: keeps every request's headers and body."""

    def __init__(self):
        self.requests: list[str] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                listener.requests.append(str(self.headers) + self.rfile.read(length).decode("utf-8", "replace"))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = _any  # noqa: N815 - the http.server API

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.stop()


def check_connection(client, account):
    return client.post(reverse("admin:connectors_connectoraccount_check_connection", args=[account.pk]), follow=True)


def redirect_form(account, url, **overrides):
    fields = {"label": account.label, "base_url_override": url, "credential_api_key": "",
              "credential_webhook_secret": "", **overrides}
    return add_form(account.merchant, **fields)


@pytest.mark.parametrize("who", ["operations_client", "admin_client"])
def test_changing_the_bank_url_without_typing_the_secrets_again_is_refused(who, request, sandbox_account,
                                                                           listener):
    client = request.getfixturevalue(who)
    response = client.post(change_url(sandbox_account), redirect_form(sandbox_account, listener.url))

    assert response.status_code == 200  # the form again, with its errors
    page = response.content.decode()
    assert "the bank URL changes: type the" in page
    sandbox_account.refresh_from_db()
    assert sandbox_account.base_url_override != listener.url
    check_connection(client, sandbox_account)
    assert not any(SANDBOX_API_KEY in seen or SANDBOX_WEBHOOK_SECRET in seen for seen in listener.requests)


def test_a_new_url_with_the_secrets_typed_again_is_saved_and_used(operations_client, sandbox_account, listener):
    form = redirect_form(sandbox_account, listener.url, credential_api_key="sbx_typed_by_ops_0001",
                         credential_webhook_secret="whsec_typed_by_ops_0001")
    assert operations_client.post(change_url(sandbox_account), form).status_code == 302

    check_connection(operations_client, sandbox_account)

    sandbox_account.refresh_from_db()
    assert sandbox_account.base_url_override == listener.url
    assert listener.requests and all(SANDBOX_API_KEY not in seen for seen in listener.requests)
    assert any("sbx_typed_by_ops_0001" in seen for seen in listener.requests)


def test_clearing_the_override_moves_the_destination_too(operations_client, sandbox_account, settings, listener):
    """The next member of the kind: the rule is on the URL the account ends up using, not on one
    field; clearing the override sends to the environment's or the connector's default."""
    settings.CONNECTOR_BASE_URLS = {**settings.CONNECTOR_BASE_URLS, "sandbox": listener.url}
    response = operations_client.post(change_url(sandbox_account), redirect_form(sandbox_account, ""))

    assert response.status_code == 200 and "the bank URL changes" in response.content.decode()
    assert ConnectorAccount.objects.get(pk=sandbox_account.pk).base_url_override == sandbox_account.base_url_override
    assert listener.requests == []


def test_other_edits_keep_the_stored_secrets(operations_client, sandbox_account):
    form = redirect_form(sandbox_account, sandbox_account.base_url_override + "/", label="Renamed by ops")
    assert operations_client.post(change_url(sandbox_account), form).status_code == 302
    sandbox_account.refresh_from_db()
    assert sandbox_account.label == "Renamed by ops"
    assert sandbox_account.get_credentials()["api_key"] == SANDBOX_API_KEY
