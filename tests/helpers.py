"""Small builders used across the API tests."""

SANDBOX_API_KEY = "sbx_test_key_0123456789"
SANDBOX_WEBHOOK_SECRET = "sbx_whsec_abcdef0123456789"

APPROVED_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
UNSUPPORTED_CARD = "4000000000009995"
PENDING_CARD = "4000000000000259"
THREE_DS_CARD = "4000000000003220"
PENDING_REFUND_CARD = "4000000000007726"


def card(number=APPROVED_CARD, exp_month=12, exp_year=2034, cvc="123"):
    return {"number": number, "exp_month": exp_month, "exp_year": exp_year, "cvc": cvc}


def payment_body(amount=1050, currency="EUR", *, number=APPROVED_CARD, confirm=True, **extra):
    body = {"amount": amount, "currency": currency, "confirm": confirm, "payment_method_type": "card",
            "payment_method_data": {"card": card(number)}}
    body.update(extra)
    return body


def assert_error(response, status, code=None, param=None):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) >= {"type", "code", "message"}
    if code is not None:
        assert error["code"] == code, error
    if param is not None:
        assert error.get("param") == param, error
    return error


def start_sandbox_bank():
    """A sandbox bank simulator serving on a loopback port (stop it with ``.stop()``)."""
    from connectors.sandbox.simulator import SandboxSimulator
    from connectors.testing.simulator import SimulatorServer

    return SimulatorServer(SandboxSimulator(accounts={SANDBOX_API_KEY: SANDBOX_WEBHOOK_SECRET})).start()
