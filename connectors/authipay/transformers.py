"""Authipay's wire shapes and their mapping to and from Pagoflex's types.

Amounts travel as major units in JSON numbers with exactly the currency's decimals (spec 4.3):
1204 EUR is ``12.04``, 500 JPY is ``500``, 1234 KWD is ``1.234``; they are built and read as
``Decimal`` through ``connectors.amounts``, never as floats.
"""

from __future__ import annotations

from decimal import Decimal

from connectors import amounts
from connectors.base import Card, NextAction, PaymentData, RefundData
from connectors.errors import ConnectorBadRequest, ConnectorUnknownOutcome
from connectors.statuses import AttemptStatus, RefundStatus

A, R = AttemptStatus, RefundStatus

# The one status table (spec 3.3 plus the transactionStatus list), in the values of
# Fiserv's published TransactionResponse enums (published_api.py):
# (transactionStatus, transactionState) -> (attempt status, refund status).
# "*" matches any state. A pair that is not listed maps to pending, so sync finds out rather
# than Pagoflex guessing an outcome. Spec 3.3's RETURNED and VERIFIED states are not in the
# published enum (SPEC.md): an approved return answers CAPTURED (or SETTLED), and a card
# verification an approved zero-amount pre-authorization, read by ``verification_status``.
STATUS_TABLE: dict[tuple[str, str], tuple[AttemptStatus, RefundStatus]] = {
    ("APPROVED", "AUTHORIZED"): (A.AUTHORIZED, R.PENDING),
    ("APPROVED", "CAPTURED"): (A.CHARGED, R.SUCCEEDED),
    ("APPROVED", "SETTLED"): (A.CHARGED, R.SUCCEEDED),
    ("APPROVED", "VOIDED"): (A.VOIDED, R.FAILED),
    ("APPROVED", "PENDING"): (A.PENDING, R.PENDING),
    ("WAITING", "WAITING"): (A.AUTHENTICATION_PENDING, R.PENDING),
    ("WAITING", "*"): (A.PENDING, R.PENDING),
    ("DECLINED", "*"): (A.FAILURE, R.FAILED),
    ("VALIDATION_FAILED", "*"): (A.FAILURE, R.FAILED),
    ("PROCESSING_FAILED", "*"): (A.FAILURE, R.FAILED),
}


def raw_status(body: dict) -> str:
    return f"{body.get('transactionStatus', '')}/{body.get('transactionState', '')}"


def _lookup(body: dict) -> tuple[AttemptStatus, RefundStatus]:
    status = str(body.get("transactionStatus", "")).upper()
    state = str(body.get("transactionState", "")).upper()
    return STATUS_TABLE.get((status, state)) or STATUS_TABLE.get((status, "*")) or (A.PENDING, R.PENDING)


def attempt_status(body: dict) -> AttemptStatus:
    return _lookup(body)[0]


def refund_status(body: dict) -> RefundStatus:
    return _lookup(body)[1]


def verification_status(body: dict) -> AttemptStatus:
    """A card verification's outcome. The gateway answers it as a zero-amount pre-authorization
    (APPROVED/AUTHORIZED): there is nothing to capture or void, so an approval is final success
    (charged, like a tokenization), a decline a failure, anything else pending."""
    status = attempt_status(body)
    if status in (A.AUTHORIZED, A.CHARGED):
        return A.CHARGED
    return status


# -- requests ----------------------------------------------------------------------------------


def amount_object(amount_minor: int, currency: str) -> dict:
    return {"total": amounts.to_major(amount_minor, currency), "currency": currency.upper()}


def card_object(card: Card) -> dict:
    card_json = {
        "number": card.number,
        "securityCode": card.cvc,
        "expiryDate": {"month": f"{card.exp_month:02d}", "year": card.exp_year_2},
    }
    if not card.cvc:
        del card_json["securityCode"]
    if card.holder_name:
        card_json["cardholderName"] = card.holder_name[:96]  # PaymentCard.cardholderName, at most 96
    return card_json


def stored_credentials(data: PaymentData) -> dict | None:
    """Credential-on-file marking: FIRST when a card is saved for later, SUBSEQUENT when a token
    pays; ``connector_metadata`` may override the sequence and say the series is scheduled."""
    if data.payment_token and data.card is None:
        default = "SUBSEQUENT"
    elif data.setup_future_usage:
        default = "FIRST"
    else:
        return None
    sequence = str(data.connector_metadata.get("stored_credential_sequence") or default).upper()
    if sequence not in ("FIRST", "SUBSEQUENT"):
        raise ConnectorBadRequest(f"stored_credential_sequence must be FIRST or SUBSEQUENT, not {sequence!r}")
    return {"sequence": sequence, "scheduled": bool(data.connector_metadata.get("scheduled", False))}


def authentication_request(data: PaymentData) -> dict | None:
    """The 3-D Secure 2.1 request (spec 4.4.2), sent whenever Pagoflex can take the customer back.

    With ``three_ds`` the merchant leaves the choice to the issuer ("01", no preference); without
    it the merchant asks for no challenge ("02"), but an issuer that requires one (SCA) still gets
    it, which is the "gateway requires it" case. No ``methodNotificationURL`` is sent, so the
    gateway skips the 3DS method step and answers with a challenge or a result directly.
    """
    if not data.return_url or data.card is None:
        return None
    return {
        "authenticationType": "Secure3D21AuthenticationRequest",
        "termURL": data.return_url,
        "challengeIndicator": "01" if data.three_ds else "02",
    }


def payment_request(data: PaymentData, store_id: str) -> dict:
    """POST /payments (spec 3.1, 4.1.1): sale for automatic capture, pre-auth for manual."""
    sale = data.capture_method == "automatic"
    if data.card is not None:
        kind, method = "PaymentCard", {"paymentCard": card_object(data.card)}
    elif data.payment_token:
        kind, method = "PaymentToken", {"paymentToken": {"value": data.payment_token}}
    else:
        raise ConnectorBadRequest("Authipay needs a card or a saved payment token", code="payment_method_missing")
    payload = {
        "requestType": f"{kind}{'Sale' if sale else 'PreAuth'}Transaction",
        "transactionAmount": amount_object(data.amount, data.currency),
        "paymentMethod": method,
        "merchantTransactionId": data.attempt_reference,
        "storeId": store_id,
    }
    credentials = stored_credentials(data)
    if credentials:
        payload["storedCredentials"] = credentials
    if data.card is not None and data.setup_future_usage:
        # Ask the gateway to keep the card and answer with a reusable token (never the card).
        payload["createToken"] = {"reusable": True}
    authentication = authentication_request(data)
    if authentication:
        payload["authenticationRequest"] = authentication
    return payload


def capture_request(amount_minor: int, currency: str, store_id: str) -> dict:
    return {
        "requestType": "PostAuthTransaction",
        "transactionAmount": amount_object(amount_minor, currency),
        "storeId": store_id,
    }


def void_request(store_id: str) -> dict:
    return {"requestType": "VoidTransaction", "storeId": store_id}


def refund_request(data: RefundData, store_id: str) -> dict:
    # merchantTransactionId lets rsync find the return by Pagoflex's refund id if the answer is lost.
    return {
        "requestType": "ReturnTransaction",
        "transactionAmount": amount_object(data.amount, data.currency),
        "merchantTransactionId": data.refund_id,
        "storeId": store_id,
    }


def token_request(card: Card, store_id: str) -> dict:
    return {
        "requestType": "PaymentCardPaymentTokenizationRequest",
        "paymentCard": card_object(card),
        "createToken": {"reusable": True},
        "storeId": store_id,
    }


def verification_request(card: Card, store_id: str) -> dict:
    return {"paymentCard": card_object(card), "storeId": store_id}


def authentication_update(redirect_params: dict, store_id: str) -> dict:
    """PATCH /payments/{id}: hand the ACS's answer to the gateway so it finishes the payment.

    3DS 2.x ACSs post ``cres`` (and ``threeDSSessionData``): Secure3D21AuthenticationUpdateRequest
    with ``acsResponse.cRes``. 3DS 1.0 ACSs post ``PaRes`` and ``MD``:
    Secure3D10AuthenticationUpdateRequest with ``payerAuthenticationResponse`` and
    ``merchantData`` as fields of the request itself (published_api.py).
    """
    params = {str(k).lower(): v for k, v in redirect_params.items()}
    if params.get("cres"):
        return {
            "authenticationType": "Secure3D21AuthenticationUpdateRequest",
            "storeId": store_id,
            "acsResponse": {"cRes": params["cres"]},
        }
    if params.get("pares"):
        return {
            "authenticationType": "Secure3D10AuthenticationUpdateRequest",
            "storeId": store_id,
            "payerAuthenticationResponse": params["pares"],
            "merchantData": params.get("md", ""),
        }
    raise ConnectorBadRequest(
        "the customer came back without the ACS's answer (cres or PaRes)", code="authentication_result_missing"
    )


# -- responses ---------------------------------------------------------------------------------


def read_amount(body: dict) -> tuple[int | None, str | None]:
    """(minor units, currency) the gateway reports: approvedAmount, else transactionAmount."""
    reported = body.get("approvedAmount") or body.get("transactionAmount")
    if not isinstance(reported, dict) or "total" not in reported:
        return None, None
    currency = str(reported.get("currency", "")).upper()
    total = reported["total"]
    if isinstance(total, bool) or not isinstance(total, (int, str, Decimal)):
        raise ConnectorUnknownOutcome(
            f"Authipay sent an unreadable amount {total!r}", code="invalid_connector_response"
        )
    try:
        return amounts.to_minor(total, currency), currency
    except amounts.AmountError as exc:
        raise ConnectorUnknownOutcome(str(exc), code="invalid_connector_response") from None


def processor_result(body: dict) -> tuple[str, str]:
    """The processor's responseCode and responseMessage (kept for support and decline reasons)."""
    processor = body.get("processor") if isinstance(body.get("processor"), dict) else {}
    return str(processor.get("responseCode", "")), str(processor.get("responseMessage", ""))


def keep(body: dict) -> dict:
    """What Pagoflex keeps from a transaction answer (connector_metadata)."""
    code, message = processor_result(body)
    kept = {
        "order_id": body.get("orderId", ""),
        "approval_code": body.get("approvalCode", ""),
        "transaction_type": body.get("transactionType", ""),
        "response_code": code,
        "response_message": message,
    }
    return {key: str(value) for key, value in kept.items() if value}


def next_action(body: dict) -> NextAction | None:
    """The ACS redirect of a WAITING answer: the browser must POST these fields to the ACS URL."""
    authentication = body.get("authenticationResponse")
    params = authentication.get("params") if isinstance(authentication, dict) else None
    if not isinstance(params, dict) or not params.get("acsURL"):
        return None
    if params.get("cReq"):
        form = {"creq": params["cReq"], "threeDSSessionData": params.get("sessionData", "")}
    else:
        form = {
            "PaReq": params.get("payerAuthenticationRequest", ""),
            "MD": params.get("merchantData", ""),
            "TermUrl": params.get("termURL", ""),
        }
    return NextAction(type="redirect_to_url", url=str(params["acsURL"]), data={"method": "POST", "form": form})


def error_parts(body) -> tuple[str, str, str]:
    """(error code, message, details) of the gateway's error object (spec 5.1)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", "", ""
    details = error.get("details") if isinstance(error.get("details"), list) else []
    # ErrorDetails: {"field": the property at fault, "message": what is wrong with it}.
    detail_text = ", ".join(
        f"{d['field']}: {d['message']}" if d.get("field") else str(d["message"])
        for d in details
        if isinstance(d, dict) and d.get("message")
    )
    return str(error.get("code") or ""), str(error.get("message") or ""), detail_text
