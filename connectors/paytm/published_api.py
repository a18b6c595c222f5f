"""Paytm's published Payments APIs, as far as the Paytm (UPI) connector uses them.

Written from Paytm's API reference pages (developer.paytm.com / paytmpayments.com ``docs/api``:
Initiate Transaction, Process Transaction with the UPI custom-checkout samples, Transaction
Status ``v3/order/status``, Refund ``refund/apply``, Refund Status ``v2/refund/status``) and
held against Paytm's own libraries: ``paytmchecksum`` 1.7.0 (the signature) and ``paytm-pg``
1.1.2 (its request and response classes). Only what Pagoflex sends or reads is described, plus
the fields Paytm's SDK sends; every object is closed except where noted. SPEC.md in this folder
lists where Paytm's documents disagree with each other.

Units: amounts are major-unit strings (``"10.50"``); ``requestTimestamp`` and
``responseTimestamp`` are epoch strings, seconds or milliseconds (Paytm's attribute tables say
seconds, its samples and SDK use milliseconds).
"""

from __future__ import annotations

from connectors.testing.contract import Endpoint, Field, Obj, PublishedApi, array, obj

S = Field

ORDER_ID = Field(required=True, pattern=r"[A-Za-z0-9@\-_.]{1,50}")
MID = Field(required=True, max_length=20)
EPOCH = Field(unit="epoch_seconds_or_ms", max_length=15)
AMOUNT_TEXT = Field(unit="decimal_string", max_length=10)
CHANNEL = Field(enum=("WEB", "WAP"))

# -- heads -----------------------------------------------------------------------------------------

SIGNED_HEAD = obj(
    {
        "version": Field(max_length=4),
        "channelId": CHANNEL,
        "requestTimestamp": EPOCH,
        "clientId": Field(max_length=3),
        "signature": Field(required=True, max_length=108),
    },
    required=True,
)
TOKEN_HEAD = obj(
    {
        "version": Field(max_length=4),
        "channelId": CHANNEL,
        "requestTimestamp": EPOCH,
        "clientId": Field(max_length=3),
        "txnToken": Field(required=True),
    },
    required=True,
)
ANSWER_HEAD = obj(
    {
        "version": S(),
        "responseTimestamp": EPOCH,
        "channelId": CHANNEL,
        "clientId": S(),
        "signature": S(),
    },
    required=True,
)


def result_info(*statuses: str, retry: bool = False) -> Field:
    fields = {"resultStatus": Field(required=True, enum=statuses), "resultCode": Field(required=True), "resultMsg": S()}
    if retry:
        fields["retry"] = Field("boolean")
    return obj(fields, required=True)


def envelope(head: Field, body: dict) -> Obj:
    return Obj({"head": head, "body": obj(body, required=True)})


# -- Initiate Transaction --------------------------------------------------------------------------

INITIATE_REQUEST = envelope(
    SIGNED_HEAD,
    {
        "requestType": Field(required=True, enum=("Payment",)),
        "mid": MID,
        "orderId": ORDER_ID,
        "websiteName": Field(required=True),
        "txnAmount": obj(
            {"value": Field(required=True, unit="decimal_string"), "currency": Field(required=True, enum=("INR",))},
            required=True,
        ),
        "userInfo": obj(
            {
                "custId": Field(required=True, pattern=r"[A-Za-z0-9@!_$.]{1,64}"),
                "mobile": Field(pattern=r"[0-9]{10}"),
                "email": S(),
                "firstName": S(),
                "lastName": S(),
            },
            required=True,
        ),
        "callbackUrl": S(),
        "enablePaymentMode": array(obj({"mode": Field(required=True), "channels": array(S()), "banks": array(S())})),
        "disablePaymentMode": array(obj({"mode": Field(required=True), "channels": array(S()), "banks": array(S())})),
        # Options of other checkout flows that Paytm's SDK may send; Pagoflex sends none of them.
        "promoCode": S(),
        "emiOption": S(),
        "cardTokenRequired": S(),
        "paytmSsoToken": S(),
        "cartValidationRequired": S(),
        "goods": Field("any"),
        "shippingInfo": Field("any"),
        "extendInfo": obj({}, open=True),
    },
)
INITIATE_ANSWER = envelope(
    ANSWER_HEAD,
    {
        "resultInfo": result_info("S", "F", "U"),
        "txnToken": S(),
        "isPromoCodeValid": Field("boolean"),
        "authenticated": Field("boolean"),
        "callbackUrl": S(),
    },
)

# -- Process Transaction (UPI collect and intent) --------------------------------------------------

PROCESS_REQUEST = envelope(
    TOKEN_HEAD,
    {
        "requestType": Field(required=True, enum=("NATIVE",)),
        "mid": MID,
        "orderId": ORDER_ID,
        "paymentMode": Field(required=True, enum=("UPI", "UPI_INTENT")),
        "payerAccount": S(),  # the customer's VPA, for a collect
        "channelCode": S(),
        "paymentFlow": S(),
    },
)
PROCESS_ANSWER = envelope(
    ANSWER_HEAD,
    {
        "resultInfo": result_info("S", "F", "U", retry=True),
        "deepLinkInfo": obj({"deepLink": S(), "orderId": S(), "transId": S(), "cashierRequestId": S()}),
        "bankForm": obj(
            {
                "pageType": S(),
                "isForceResendOtp": Field("boolean"),
                "redirectForm": obj(
                    {
                        "actionUrl": S(),
                        "method": S(),
                        "type": S(),
                        "headers": obj({}, open=True),
                        # The form fields for the UPI polling page (MERCHANT_VPA, payerVpa,
                        # txnAmount, txnToken, ...): Paytm's to choose.
                        "content": obj({}, open=True),
                    }
                ),
            }
        ),
    },
)

# -- Transaction Status ----------------------------------------------------------------------------

STATUS_REQUEST = envelope(
    SIGNED_HEAD,
    {"mid": MID, "orderId": ORDER_ID, "txnType": Field(enum=("PREAUTH", "RELEASE", "CAPTURE", "WITHDRAW"))},
)
STATUS_ANSWER = envelope(
    ANSWER_HEAD,
    {
        "resultInfo": result_info("TXN_SUCCESS", "TXN_FAILURE", "PENDING", "NO_RECORD_FOUND"),
        "txnId": S(),
        "bankTxnId": S(),
        "orderId": S(),
        "txnAmount": AMOUNT_TEXT,
        "txnType": S(),
        "gatewayName": S(),
        "bankName": S(),
        "mid": S(),
        "paymentMode": S(),
        "refundAmt": AMOUNT_TEXT,
        "txnDate": S(),
        "authRefId": S(),
        "merchantUniqueReference": S(),
        "subsId": S(),
        "payableAmount": AMOUNT_TEXT,
        "paymentPromoCheckoutData": Field("any"),
        "vanInfo": Field("any"),
    },
)

# -- Refund and Refund Status ----------------------------------------------------------------------

REFUND_REQUEST = envelope(
    SIGNED_HEAD,
    {
        "mid": MID,
        "txnType": Field(required=True, enum=("REFUND",)),
        "orderId": ORDER_ID,
        "txnId": Field(required=True, max_length=64),
        "refId": Field(required=True, pattern=r"[A-Za-z0-9@\-_.]{1,50}"),
        "refundAmount": Field(required=True, unit="decimal_string", max_length=10),
        "comments": S(),
        "preferredDestination": S(),
        "disableMerchantDebitRetry": Field("boolean"),
        "agentInfo": obj({"employeeId": S(), "name": S(), "phoneNo": S(), "email": S()}),
        "refundReason": S(),
    },
)
REFUND_RESULT = result_info("TXN_SUCCESS", "TXN_FAILURE", "PENDING")
REFUND_ANSWER = envelope(
    ANSWER_HEAD,
    {
        "resultInfo": REFUND_RESULT,
        "txnTimestamp": S(),
        "orderId": S(),
        "mid": S(),
        "refId": S(),
        "refundId": S(),
        "txnId": S(),
        "refundAmount": AMOUNT_TEXT,
        "txnAmount": AMOUNT_TEXT,  # in paytm-pg's AsyncRefundResponseBody, not in the page's table
    },
)
REFUND_STATUS_REQUEST = envelope(SIGNED_HEAD, {"mid": MID, "orderId": ORDER_ID, "refId": Field(required=True)})
REFUND_STATUS_ANSWER = envelope(
    ANSWER_HEAD,
    {
        "resultInfo": REFUND_RESULT,
        "orderId": S(),
        "mid": S(),
        "refId": S(),
        "refundId": S(),
        "txnId": S(),
        "refundAmount": AMOUNT_TEXT,
        "txnAmount": AMOUNT_TEXT,
        "totalRefundAmount": AMOUNT_TEXT,
        "txnTimestamp": S(),
        "source": S(),
        "userCreditInitiateStatus": S(),
        "merchantRefundRequestTimestamp": S(),
        "acceptRefundStatus": S(),
        "acceptRefundTimestamp": S(),
        "userCreditInitiateTimestamp": S(),
        "refundReason": S(),
        "refundDetailInfoList": array(obj({}, open=True)),
        "agentInfo": obj({}, open=True),
        "gatewayInfo": Field("any"),
    },
)

API = PublishedApi(
    name="Paytm Payments APIs",
    version="Initiate Transaction v1, Process Transaction v1, Transaction Status v3, Refund v1, Refund Status v2",
    source="https://developer.paytm.com/docs/api/ (API references) and the paytm-pg 1.1.2 SDK",
    endpoints=(
        Endpoint(
            "POST",
            "/theia/api/v1/initiateTransaction",
            INITIATE_REQUEST,
            {200: INITIATE_ANSWER},
            query={"mid": MID, "orderId": ORDER_ID},
            name="Initiate Transaction",
        ),
        # paytm-pg posts the same request to /order/initiate (SPEC.md: where the documents disagree).
        Endpoint(
            "POST",
            "/order/initiate",
            INITIATE_REQUEST,
            {200: INITIATE_ANSWER},
            query={"mid": MID, "orderId": ORDER_ID},
            name="Initiate Transaction (paytm-pg's path)",
        ),
        Endpoint(
            "POST",
            "/theia/api/v1/processTransaction",
            PROCESS_REQUEST,
            {200: PROCESS_ANSWER},
            query={"mid": MID, "orderId": ORDER_ID},
            name="Process Transaction",
        ),
        Endpoint("POST", "/v3/order/status", STATUS_REQUEST, {200: STATUS_ANSWER}, name="Transaction Status"),
        Endpoint("POST", "/refund/apply", REFUND_REQUEST, {200: REFUND_ANSWER}, name="Refund"),
        Endpoint("POST", "/v2/refund/status", REFUND_STATUS_REQUEST, {200: REFUND_STATUS_ANSWER}, name="Refund Status"),
    ),
)
