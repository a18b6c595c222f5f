"""Typed connector errors. The class says what happened and whether trying again is safe.

``retry_safe`` is True only when the request certainly did not reach the bank (nothing can
have been charged), so the orchestration may try the same payment again, here or elsewhere.
"""


class ConnectorError(Exception):
    code = "connector_error"
    retry_safe = False

    def __init__(self, message: str, *, code: str | None = None, connector_code: str = "",
                 status_code: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.connector_code = connector_code
        self.status_code = status_code


class ConnectorDeclined(ConnectorError):
    """The bank declined. ``retryable_elsewhere`` marks soft declines another connector may approve."""

    code = "card_declined"

    def __init__(self, message: str, *, decline_code: str = "", connector_reference: str = "",
                 retryable_elsewhere: bool = False, **kwargs):
        super().__init__(message, **kwargs)
        self.decline_code = decline_code or self.connector_code
        self.connector_reference = connector_reference
        self.retryable_elsewhere = retryable_elsewhere


class ConnectorBadRequest(ConnectorError):
    """Our request or the account's configuration is wrong; the bank did nothing."""

    code = "connector_bad_request"


class ConnectorAuthenticationFailed(ConnectorError):
    """The bank refused the credentials (or our signature)."""

    code = "connector_authentication_failed"


class ConnectorUnavailable(ConnectorError):
    """The request never reached the bank (refused connection, DNS, connect timeout, 503)."""

    code = "connector_unavailable"
    retry_safe = True


class ConnectorUnknownOutcome(ConnectorError):
    """The request may have been processed (read timeout, reset, 5xx, unreadable answer).

    Never retried blindly: the attempt stays pending and sync finds out what happened.
    """

    code = "connector_unknown_outcome"


class ResponseSignatureInvalid(ConnectorUnknownOutcome):
    """The answer's signature does not verify, so nothing in it can be trusted."""

    code = "connector_response_signature_invalid"


class FlowNotSupported(ConnectorError):
    code = "flow_not_supported"


class IntegrityMismatch(ConnectorError):
    """The bank's answer reports another amount or currency than the one asked for."""

    code = "integrity_mismatch"

    def __init__(self, mismatches: dict, response):
        details = ", ".join(f"{name}: expected {want}, connector said {got}"
                            for name, (want, got) in mismatches.items())
        super().__init__(f"integrity check failed ({details})")
        self.mismatches = mismatches
        self.response = response
