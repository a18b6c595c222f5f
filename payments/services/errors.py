"""Errors the services raise; the API renders each in the one error shape.

``PaymentError`` itself lives in ``payments/errors.py`` (routing's rules raise it too, without
importing the services package); it is re-exported here.
"""

from payments.errors import PaymentError

__all__ = ["PaymentError", "connector_failure", "unexpected_state"]


def unexpected_state(obj_kind: str, status: str, action: str) -> PaymentError:
    return PaymentError(f"this {obj_kind} is {status}; it cannot be {action}",
                        code=f"{obj_kind}_unexpected_state", http_status=409)


def connector_failure(exc, *, action: str) -> PaymentError:
    """A connector error met by an operation on an existing payment (capture, void, refund)."""
    from connectors import errors

    if isinstance(exc, errors.FlowNotSupported):
        return PaymentError(f"{action} is not supported by this connector", code="flow_not_supported",
                            http_status=400)
    if isinstance(exc, errors.ConnectorDeclined):
        return PaymentError(f"the connector declined the {action}: {exc.message}", code=exc.decline_code or exc.code,
                            type="connector_error", http_status=402)
    if isinstance(exc, errors.ConnectorUnknownOutcome):
        return PaymentError(f"the {action} outcome is unknown ({exc.message}); it will be reconciled by sync",
                            code=exc.code, type="connector_error", http_status=502)
    if isinstance(exc, errors.ConnectorUnavailable):
        return PaymentError(f"the connector is unavailable; the {action} was not sent, try again",
                            code=exc.code, type="connector_error", http_status=503)
    return PaymentError(f"the connector refused the {action}: {exc.message}", code=exc.code,
                        type="connector_error", http_status=502)
