"""Fiserv's published Payment Gateway REST API, as far as the Authipay connector uses it.

Written from Fiserv's OpenAPI description in the public repository Fiserv/ipg-na,
``reference/24.2.0/gateway-services.yaml`` (whose ``info.version`` reads 21.2.0.20210315.001),
and held against the official Python client ``first-data-gateway`` 1.14.0 (generated from
21.5.0.20211029.001). Only the operations, request types and fields Pagoflex sends or reads are
described; every object is closed, so a field the description does not have is a deviation.
SPEC.md in this folder lists where Fiserv's documents disagree with each other and with the
EMEA specification the connector was first written from.

Units: ``Timestamp`` header in epoch milliseconds; ``transactionTime`` in epoch seconds;
amounts are major units written as JSON numbers (``{"total": 12.04, "currency": "EUR"}``).
"""

from __future__ import annotations

from connectors.testing.contract import Endpoint, Field, Obj, PublishedApi, array, obj

S = Field  # a string unless told otherwise

# -- shared pieces ---------------------------------------------------------------------------------

AMOUNT = obj(
    {
        "total": Field("number", required=True, unit="major_number"),
        "currency": Field(required=True, pattern=r"[A-Z]{3}|[0-9]{3}"),
    }
)
AMOUNT_REQUIRED = Field("object", required=True, obj=AMOUNT.obj)
EXPIRY = obj(
    {"month": Field(required=True, pattern=r"0[1-9]|1[012]"), "year": Field(required=True, pattern=r"[0-9]{2}")}
)
PAYMENT_CARD_FIELDS = {
    "number": Field(required=True, pattern=r"[0-9]{13,19}"),
    "expiryDate": EXPIRY,
    "securityCode": Field(max_length=4),
    "cardholderName": Field(max_length=96),
    "cardFunction": Field(enum=("CREDIT", "DEBIT", "PREPAID", "VOUCHER", "UNDEFINED")),
    "bin": S(),
    "last4": S(),
    "brand": S(),
}
PAYMENT_CARD_REQUIRED = obj(PAYMENT_CARD_FIELDS, required=True)
# In answers the gateway describes the card by last4/brand/expiry and never echoes the number:
# the schema marks PaymentCard.number required, yet Fiserv's own client drops that check
# (SPEC.md, where the documents disagree).
PAYMENT_CARD_ANSWER = obj({**PAYMENT_CARD_FIELDS, "number": Field(pattern=r"[0-9]{13,19}")})
STORED_CREDENTIALS = obj(
    {
        "sequence": Field(required=True, enum=("FIRST", "SUBSEQUENT")),
        "scheduled": Field("boolean", required=True),
        "referencedSchemeTransactionId": Field(max_length=50),
        "initiator": Field(enum=("MERCHANT", "CARDHOLDER")),
    }
)
CREATE_TOKEN = obj({"value": S(), "reusable": Field("boolean"), "declineDuplicates": Field("boolean")})
CHALLENGE_INDICATOR = Field(enum=("01", "02", "03", "04", "05", "06", "07", "08", "09"))
AUTHENTICATION_REQUEST = Field(
    "object",
    obj=Obj(
        one_of=(
            "authenticationType",
            {
                "Secure3D21AuthenticationRequest": Obj(
                    {
                        "termURL": Field(max_length=2048),
                        "methodNotificationURL": Field(max_length=2048),
                        "challengeIndicator": CHALLENGE_INDICATOR,
                        "challengeWindowSize": Field(enum=("01", "02", "03", "04", "05")),
                        "browserJavaScriptEnabled": Field("boolean"),
                        "browserJavaEnabled": Field("boolean"),
                        "authenticationIndicator": Field(enum=("01", "02", "03", "04", "05", "06")),
                        "secure3DDeviceChannel": Field(enum=("02", "03")),
                        "secure3DThreeRIIndicator": Field(enum=tuple(f"{n:02d}" for n in range(1, 12))),
                        "recurringExpiry": Field(pattern=r"[0-9]{4}(1[0-2]|0[1-9])(3[01]|0[1-9]|[12][0-9])"),
                        "recurringFrequency": Field("integer"),
                    }
                ),
                "Secure3D10AuthenticationRequest": Obj({"termURL": Field(max_length=2048)}),
            },
        )
    ),
)
PRIMARY_COMMON = {
    "transactionAmount": AMOUNT_REQUIRED,
    "storeId": Field(max_length=20),
    "merchantTransactionId": Field(max_length=40),
    "transactionOrigin": Field(enum=("ECOM", "MOTO", "MAIL", "PHONE", "RETAIL")),
    "storedCredentials": STORED_CREDENTIALS,
    "authenticationRequest": AUTHENTICATION_REQUEST,
}
CARD_METHOD = obj({"paymentCard": PAYMENT_CARD_REQUIRED})
TOKEN_METHOD = obj(
    {
        "paymentToken": obj(
            {
                "value": Field(required=True),
                "tokenOriginStoreId": Field(max_length=20),
                "function": Field(enum=("CREDIT", "DEBIT", "PREPAID", "VOUCHER", "UNDEFINED")),
                "securityCode": Field(max_length=4),
                "expiryDate": EXPIRY,
            },
            required=True,
        )
    },
    required=True,
)
CARD_SALE = Obj({**PRIMARY_COMMON, "paymentMethod": CARD_METHOD, "createToken": CREATE_TOKEN})
TOKEN_SALE = Obj({**PRIMARY_COMMON, "paymentMethod": TOKEN_METHOD})
# A pre-authorization may also lower an earlier one (decrementalFlag); Pagoflex never sets it.
DECREMENTAL = {"decrementalFlag": Field("boolean")}
PRIMARY_TRANSACTION = Obj(
    one_of=(
        "requestType",
        {
            "PaymentCardSaleTransaction": CARD_SALE,
            "PaymentCardPreAuthTransaction": Obj({**CARD_SALE.fields, **DECREMENTAL}),
            "PaymentTokenSaleTransaction": TOKEN_SALE,
            "PaymentTokenPreAuthTransaction": Obj({**TOKEN_SALE.fields, **DECREMENTAL}),
        },
    )
)
SECONDARY_COMMON = {"storeId": Field(max_length=20), "merchantTransactionId": Field(max_length=40), "comments": S()}
SECONDARY_TRANSACTION = Obj(
    one_of=(
        "requestType",
        {
            "PostAuthTransaction": Obj({**SECONDARY_COMMON, "transactionAmount": AMOUNT_REQUIRED}),
            "VoidTransaction": Obj({**SECONDARY_COMMON, "transactionAmount": AMOUNT}),
            "ReturnTransaction": Obj({**SECONDARY_COMMON, "transactionAmount": AMOUNT_REQUIRED}),
        },
    )
)
AUTHENTICATION_UPDATE_COMMON = {"storeId": Field(max_length=20), "securityCode": S()}
AUTHENTICATION_UPDATE = Obj(
    one_of=(
        "authenticationType",
        {
            "Secure3D21AuthenticationUpdateRequest": Obj(
                {
                    **AUTHENTICATION_UPDATE_COMMON,
                    "methodNotificationStatus": Field(enum=("RECEIVED", "EXPECTED_BUT_NOT_RECEIVED", "NOT_EXPECTED")),
                    "acsResponse": obj({"cRes": S()}),
                }
            ),
            "Secure3D10AuthenticationUpdateRequest": Obj(
                {
                    **AUTHENTICATION_UPDATE_COMMON,
                    "payerAuthenticationResponse": Field(required=True),
                    "merchantData": S(),
                }
            ),
        },
    )
)
TOKENIZATION_REQUEST = Obj(
    one_of=(
        "requestType",
        {
            "PaymentCardPaymentTokenizationRequest": Obj(
                {
                    "storeId": Field(max_length=20),
                    "createToken": obj(CREATE_TOKEN.obj.fields, required=True),
                    "accountVerification": Field("boolean"),
                    "merchantTransactionId": Field(max_length=40),
                    "paymentCard": PAYMENT_CARD_REQUIRED,
                }
            ),
        },
    )
)
CARD_VERIFICATION_REQUEST = Obj(
    {
        "paymentCard": PAYMENT_CARD_REQUIRED,
        "storeId": Field(max_length=20),
        "transactionOrigin": Field(enum=("ECOM", "MOTO", "MAIL", "PHONE", "RETAIL")),
    }
)

# -- answers ---------------------------------------------------------------------------------------

RESPONSE_TYPE = Field(
    enum=(
        "BadRequest",
        "Unauthenticated",
        "Unauthorized",
        "NotFound",
        "GatewayDeclined",
        "EndpointDeclined",
        "ServerError",
        "EndpointCommunicationError",
        "UnsupportedMediaType",
    )
)
ERROR = obj(
    {
        "code": S(),
        "message": S(),
        "details": array(obj({"field": S(), "message": S()})),
        "declineReasonCode": S(),
    }
)
ENVELOPE = {"clientRequestId": S(), "apiTraceId": S(), "responseType": RESPONSE_TYPE}
PAYMENT_TOKEN_DETAILS = obj(
    {
        "value": S(),
        "reusable": Field("boolean"),
        "declineDuplicates": Field("boolean"),
        "last4": S(),
        "brand": S(),
        "accountVerification": Field("boolean"),
        "type": S(),
        "error": ERROR,
    }
)
TRANSACTION_FIELDS = {
    **ENVELOPE,
    "ipgTransactionId": S(),
    "orderId": S(),
    "transactionType": Field(
        enum=(
            "SALE",
            "PREAUTH",
            "CREDIT",
            "FORCED_TICKET",
            "VOID",
            "RETURN",
            "POSTAUTH",
            "PAYER_AUTH",
            "DISBURSEMENT",
        )
    ),
    "paymentToken": PAYMENT_TOKEN_DETAILS,
    "transactionOrigin": Field(enum=("ECOM", "MOTO", "MAIL", "PHONE", "RETAIL")),
    "paymentMethodDetails": obj(
        {"paymentCard": PAYMENT_CARD_ANSWER, "paymentMethodType": S(), "paymentMethodBrand": S()}
    ),
    "country": S(),
    "terminalId": S(),
    "merchantId": Field(max_length=30),
    "merchantTransactionId": Field(max_length=40),
    "transactionTime": Field("integer", unit="epoch_seconds"),
    "approvedAmount": AMOUNT,
    "transactionAmount": AMOUNT,
    "transactionStatus": Field(
        enum=(
            "APPROVED",
            "WAITING",
            "PARTIAL",
            "VALIDATION_FAILED",
            "PROCESSING_FAILED",
            "DECLINED",
        )
    ),
    "transactionResult": Field(enum=("APPROVED", "DECLINED", "FAILED", "WAITING", "PARTIAL", "FRAUD")),
    "approvalCode": S(),
    "errorMessage": S(),
    "transactionState": Field(
        enum=(
            "AUTHORIZED",
            "CAPTURED",
            "DECLINED",
            "CHECKED",
            "COMPLETED_GET",
            "INITIALIZED",
            "PENDING",
            "READY",
            "TEMPLATE",
            "SETTLED",
            "VOIDED",
            "WAITING",
        )
    ),
    "schemeTransactionId": Field(max_length=40),
    "redirectURL": S(),
    "authenticationResponse": obj(
        {
            "type": Field(enum=("3D_SECURE",)),
            "version": Field(enum=("1.0", "2.1", "2.2")),
            "params": obj(
                {
                    "acsURL": S(),
                    "cReq": S(),
                    "merchantData": S(),
                    "payerAuthenticationRequest": S(),
                    "sessionData": S(),
                    "termURL": Field(max_length=2048),
                }
            ),
            "secure3dMethod": obj({"methodForm": S(), "secure3dTransId": S()}),
        }
    ),
    "processor": obj(
        {
            "referenceNumber": S(),
            "authorizationCode": S(),
            "responseCode": S(),
            "network": S(),
            "associationResponseCode": S(),
            "responseMessage": S(),
        },
        open=True,
    ),  # AVS/CVV and network details: Pagoflex reads only the codes above
}
TRANSACTION_RESPONSE = Obj(TRANSACTION_FIELDS)
TRANSACTION_ERROR_RESPONSE = Obj({**TRANSACTION_FIELDS, "error": ERROR})
ERROR_RESPONSE = Obj({**ENVELOPE, "error": ERROR})
TOKENIZATION_RESPONSE = Obj(
    {
        **ENVELOPE,
        "requestStatus": Field(
            enum=("DELETED", "FAILED", "SUCCESS", "APPROVED", "WAITING", "VALIDATION_FAILED", "DECLINED")
        ),
        "requestTime": Field("integer"),
        "brand": S(),
        "country": S(),
        "paymentToken": PAYMENT_TOKEN_DETAILS,
        "paymentCard": PAYMENT_CARD_ANSWER,
        "orderId": S(),
        "ipgTransactionId": Field(max_length=14),
        "merchantTransactionId": Field(max_length=40),
    }
)

# OrderResponse (orderInquiry, GET /orders/{order-id}): the order's primary and secondary
# transactions; Pagoflex reads it to learn how much of a pre-auth its POSTAUTHs captured.
ORDER_RESPONSE = Obj(
    {
        **ENVELOPE,
        "orderId": S(),
        "transactions": array(Field("object", obj=TRANSACTION_RESPONSE)),
    }
)

# Every operation answers the gateway's error shapes besides its success.
ERRORS = {
    400: ERROR_RESPONSE,
    401: ERROR_RESPONSE,
    403: ERROR_RESPONSE,
    404: ERROR_RESPONSE,
    415: ERROR_RESPONSE,
    500: ERROR_RESPONSE,
    502: ERROR_RESPONSE,
}
TRANSACTION_ANSWERS = {
    200: TRANSACTION_RESPONSE,
    **ERRORS,
    409: TRANSACTION_ERROR_RESPONSE,
    422: TRANSACTION_ERROR_RESPONSE,
}
HEADERS = {
    "Content-Type": Field(required=True),
    "Client-Request-Id": Field(required=True),
    "Api-Key": Field(required=True),
    "Timestamp": Field("integer", required=True, unit="epoch_ms"),
    "Message-Signature": Field(),
    "Region": Field(),
}
STORE_QUERY = {"storeId": Field(max_length=20)}

API = PublishedApi(
    name="Fiserv Payment Gateway REST API",
    version="reference/24.2.0 (info.version 21.2.0.20210315.001)",
    source="https://github.com/Fiserv/ipg-na/blob/main/reference/24.2.0/gateway-services.yaml",
    endpoints=(
        Endpoint(
            "POST", "/payments", PRIMARY_TRANSACTION, TRANSACTION_ANSWERS, HEADERS, name="submitPrimaryTransaction"
        ),
        Endpoint(
            "POST",
            "/payments/{transaction-id}",
            SECONDARY_TRANSACTION,
            TRANSACTION_ANSWERS,
            HEADERS,
            STORE_QUERY,
            name="submitSecondaryTransaction",
        ),
        Endpoint(
            "PATCH",
            "/payments/{transaction-id}",
            AUTHENTICATION_UPDATE,
            TRANSACTION_ANSWERS,
            HEADERS,
            name="finalizeSecureTransaction",
        ),
        Endpoint(
            "GET",
            "/payments/{transaction-id}",
            None,
            TRANSACTION_ANSWERS,
            HEADERS,
            STORE_QUERY,
            name="transactionInquiry",
        ),
        Endpoint(
            "GET",
            "/orders/{order-id}",
            None,
            {200: ORDER_RESPONSE, **ERRORS},
            HEADERS,
            STORE_QUERY,
            name="orderInquiry",
        ),
        Endpoint(
            "POST",
            "/payment-tokens",
            TOKENIZATION_REQUEST,
            {200: TOKENIZATION_RESPONSE, **ERRORS, 409: TRANSACTION_ERROR_RESPONSE, 422: TRANSACTION_ERROR_RESPONSE},
            HEADERS,
            name="createPaymentToken",
        ),
        Endpoint(
            "POST", "/card-verification", CARD_VERIFICATION_REQUEST, TRANSACTION_ANSWERS, HEADERS, name="verifyCard"
        ),
    ),
    # The simulator's own pages (its ACS) and controls are not the gateway's API.
    ignored_paths=("/__", "/acs/"),
)
