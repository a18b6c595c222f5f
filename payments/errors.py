"""The one error the platform refuses a request with: ``PaymentError``, rendered by the API in
the one error shape (``payments/api/errors.py``). The services raise it (their helpers for it
are in ``payments/services/errors.py``), and so do routing's rules (``payments/routing/``),
which must not import the services package that calls them."""


class PaymentError(Exception):
    """A request the platform refuses, with nothing changed."""

    def __init__(self, message: str, *, code: str, param: str | None = None,
                 type: str = "invalid_request_error", http_status: int = 400, payment=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.type = type
        self.http_status = http_status
        self.payment = payment
