"""The simulator fixtures each bank's end-to-end module defines, shared with the modules that
test one behaviour across banks (test_customer_action_truth.py,
test_late_success.py, test_refund_webhook_correlation.py)."""

from tests.connectors_e2e.test_authipay import authipay_account, gateway  # noqa: F401 - fixtures
from tests.connectors_e2e.test_banco_x import bancox_account, bank  # noqa: F401 - fixtures
from tests.connectors_e2e.test_paytm import paytm, paytm_account  # noqa: F401 - fixtures
