"""The conformance suite every connector runs: its adapter and its simulator, through the
platform's own services (the ones the API, the admin and the tasks call).

A connector's ``tests/test_conformance.py`` subclasses ``ConnectorConformance``, names the
adapter class, the simulator and the bank's test inputs, and inherits every scenario below::

    class TestBancoYConformance(ConnectorConformance):
        connector_class = BancoYConnector
        credentials = {"api_key": "...", "secret": "..."}
        approving = card_input("4242424242424242")
        declining = card_input("4000000000000002")
        decline_code = "insufficient_funds"

        def make_simulator(self):
            return BancoYSimulator(accounts={"...": "..."})

A scenario is skipped only when the adapter declares the flow or feature unsupported (no
``build_<flow>``, ``supports_manual_capture = False``, ...); the skip reason says which
declaration. Connector-specific ways to reach a state are hooks a subclass overrides:
``settle_pending`` and ``trigger_webhook``. See docs/connectors.md.

Every subclass also declares ``published_api``: the processor's own published API description
(``connectors/<name>/published_api.py``, see ``connectors/testing/contract.py``). The suite then
checks every request the adapter sends and every answer the simulator gives, in every scenario,
against it, so an adapter and a simulator cannot agree with each other and drift from the
processor together. A bank whose API Pagoflex itself defines (its SPEC.md is the only
description) says so with ``published_api = None`` and a ``published_api_absent`` reason.
"""

from __future__ import annotations

import pytest
from django.test import override_settings

from connectors import amounts
from connectors.base import Connector, CurrencyUnit, Flow
from connectors.errors import ConnectorError, ConnectorUnavailable, ConnectorUnknownOutcome
from connectors.models import ConnectorCall
from connectors.testing.conformance_matrix import RecoveryMatrix
from connectors.testing.conformance_support import (
    Bank,
    Ledger,
    PaymentInput,
    Switchboard,
    WebhookCatcher,
    card_input,
    describe,
    settle_payment,
    settle_refund,
    upi_collect_input,
)
from connectors.testing.contract import PublishedApi, observe
from connectors.testing.simulator import SimulatorApp, SimulatorServer, unused_port_url
from payments.models import PaymentEvent, PaymentOperation, Refund
from payments.services import (
    PaymentError,
    cancel_payment,
    capture_payment,
    confirm_payment,
    create_payment,
    create_refund,
    sync_attempt,
    sync_payment,
)
from payments.services.connector_calls import account_webhook_url, payment_data_for, refund_data_for, run_flow
from payments.services.refunds import refundable_amount
from payments.statuses import AttemptStatus, PaymentStatus, RefundStatus
from webhooks.inbound import receive
from webhooks.models import WebhookOutcome

__all__ = ["ConnectorConformance", "Ledger", "PaymentInput", "card_input", "upi_collect_input"]

# A read timeout the bank is made to miss: its answer is delayed past it (the request was sent).
TINY_READ_TIMEOUT = 0.2
BANK_DELAY = 0.6
# Amounts whose digits are easy to find on the wire, in a zero- and a three-decimal currency.
ZERO_DECIMAL_AMOUNT = 4321
THREE_DECIMAL_AMOUNT = 12345
PREFERRED_CURRENCIES = {0: "JPY", 2: "EUR", 3: "KWD"}


class ConnectorConformance(RecoveryMatrix):
    """Scenarios every connector must pass; subclass it in ``connectors/<name>/tests``. The
    recovery matrix (``conformance_matrix.py``) comes with it."""

    # -- what a connector's conformance module declares ----------------------------------------

    connector_class: type[Connector]
    credentials: dict  # credentials the simulator accepts
    approving: PaymentInput
    declining: PaymentInput
    decline_code: str  # the attempt's error code for ``declining``
    # An input the bank leaves pending. None: the suite makes an authorize answer miss a read
    # timeout instead, which leaves the attempt pending just the same.
    pending: PaymentInput | None = None
    # True when a status query does not settle a pending payment by itself (the bank waits).
    pending_holds_until_settled: bool = False
    currency: str = ""  # default: EUR when the connector takes it, else its first currency
    amount: int = 5000
    # The processor's published API description (required: a description, or None with the
    # reason in ``published_api_absent``).
    published_api: PublishedApi | None
    published_api_absent: str = ""

    def make_simulator(self) -> SimulatorApp:
        raise NotImplementedError(f"{type(self).__name__} must say which simulator the suite talks to")

    def bad_credentials(self) -> dict:
        """Credentials the bank refuses: every secret credential reversed."""
        secret = {spec.name for spec in self.connector_class.credential_fields if spec.secret}
        return {name: value[::-1] if name in secret else value for name, value in self.credentials.items()}

    def settle_pending(self, bank: Bank, attempt) -> None:
        """Make the bank decide a pending attempt (approve it). Default: the bank decides on its own."""

    def trigger_webhook(self, bank: Bank, attempt, webhook_url: str) -> None:
        """Make the bank settle a pending attempt and send its webhook to ``webhook_url``."""
        raise NotImplementedError(
            f"{type(self).__name__} declares webhooks but does not say how its simulator sends one "
            "(override trigger_webhook)"
        )

    # -- fixtures ------------------------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def _bank_server(cls):
        switchboard = Switchboard()
        server = SimulatorServer(switchboard).start()
        yield switchboard, server
        server.stop()

    @pytest.fixture(scope="class")
    @classmethod
    def _webhook_server(cls):
        catcher = WebhookCatcher()
        server = SimulatorServer(catcher).start()
        yield catcher, server
        server.stop()

    @pytest.fixture
    def bank(self, _bank_server):
        switchboard, server = _bank_server
        app = self.make_simulator()
        api = getattr(self, "published_api", None)
        contract = observe(app, api) if api is not None else None
        switchboard.app = app
        yield Bank(app=app, base_url=server.base_url)
        close = getattr(app, "close", None)
        if callable(close):
            close()  # simulators that settle later stop their timers here
        app.settle()  # the test's requests and callbacks end with it
        if contract is not None:
            # Every exchange of the scenario, requests and answers, followed the description.
            contract.assert_followed()

    @pytest.fixture
    def webhooks(self, _webhook_server, settings):
        # Every webhook URL the platform gives a bank points at the catcher during the suite.
        catcher, server = _webhook_server
        catcher.clear()
        settings.PAGOFLEX_PUBLIC_URL = server.base_url
        return catcher

    @pytest.fixture
    def account(self, bank, webhooks, make_merchant, make_account):
        merchant, _ = make_merchant(name=f"{self.connector_class.key} conformance")
        account = make_account(
            merchant, connector=self.connector_class.key, base_url=bank.base_url, credentials=self.credentials
        )
        webhooks.clear(path_prefix=account.webhook_path)
        return account

    # -- scenario helpers ----------------------------------------------------------------------

    @property
    def key(self) -> str:
        return self.connector_class.key

    def require(
        self, *flows: Flow, manual_capture=False, multiple_captures=False, partial_refunds=False, webhooks=False
    ) -> None:
        """Skip, saying which declaration, when the connector does not support what a scenario needs."""
        cls = self.connector_class
        for flow in flows:
            if not cls.supports(flow):
                pytest.skip(f"{self.key} declares no {flow.value} flow (its adapter has no build_{flow.value})")
        for needed, attribute in (
            (manual_capture, "supports_manual_capture"),
            (multiple_captures, "supports_multiple_captures"),
            (partial_refunds, "supports_partial_refunds"),
        ):
            if needed and not getattr(cls, attribute):
                pytest.skip(f"{self.key} declares {attribute} = False")
        if webhooks and not cls.supports_webhooks():
            pytest.skip(f"{self.key} declares no webhooks (its adapter does not override verify_webhook)")

    def default_currency(self) -> str:
        if self.currency:
            return self.currency
        if self.connector_class.supports_currency("EUR"):
            return "EUR"
        return sorted(self.connector_class.currencies)[0]

    def currency_with_decimals(self, digits: int) -> str:
        accepted = sorted(
            code
            for code, exponent in amounts.CURRENCY_EXPONENTS.items()
            if exponent == digits and self.connector_class.supports_currency(code)
        )
        if not accepted:
            pytest.skip(
                f"{self.key} accepts no currency with {digits} decimals "
                f"(currencies = {sorted(self.connector_class.currencies or [])})"
            )
        preferred = PREFERRED_CURRENCIES[digits]
        return preferred if preferred in accepted else accepted[0]

    def pay(
        self,
        account,
        method: PaymentInput,
        *,
        capture_method: str = "automatic",
        amount: int | None = None,
        currency: str = "",
    ) -> PaymentOperation:
        """Create and confirm a payment through the services, as the API does."""
        payment = create_payment(
            merchant=account.merchant,
            mode=account.mode,
            amount=amount or method.amount or self.amount,
            currency=currency or self.default_currency(),
            capture_method=capture_method,
        )
        return confirm_payment(
            payment_pk=payment.pk,
            payment_method_type=method.payment_method_type,
            card=method.card(),
            upi=method.upi(),
            requested_connector=account,
        )

    def charged_payment(self, account, *, method: PaymentInput | None = None, **kwargs) -> PaymentOperation:
        payment = settle_payment(self.pay(account, method or self.approving, **kwargs))
        assert payment.status == PaymentStatus.SUCCEEDED, describe(payment)
        return payment

    def authorized_payment(self, account) -> PaymentOperation:
        payment = settle_payment(self.pay(account, self.approving, capture_method="manual"))
        assert payment.status == PaymentStatus.REQUIRES_CAPTURE, describe(payment)
        return payment

    def reach_pending(self, bank: Bank, account) -> PaymentOperation:
        """A payment whose attempt is pending at the bank: with the pending input, or else by an
        authorize answer that misses the read timeout (the bank still processes the request)."""
        if self.pending is not None:
            payment = self.pay(account, self.pending)
        else:
            bank.app.faults.arm(delay=BANK_DELAY)
            with override_settings(CONNECTOR_READ_TIMEOUT=TINY_READ_TIMEOUT):
                payment = self.pay(account, self.approving)
        assert payment.latest_attempt.status == AttemptStatus.PENDING, describe(payment)
        return payment

    def first_flow(self) -> Flow:
        """The first request of a payment: a pre-authorize flow, or authorize itself."""
        return (self.connector_class.pre_authorize_flows or (Flow.AUTHORIZE,))[0]

    def refund(self, payment, amount: int | None = None) -> Refund:
        return settle_refund(create_refund(payment_pk=payment.pk, amount=amount))

    @staticmethod
    def calls(payment, flow: Flow | None = None) -> list[ConnectorCall]:
        found = ConnectorCall.objects.filter(payment=payment).order_by("created_at", "id")
        return list(found.filter(flow=flow.value) if flow else found)

    # -- the processor's published API ---------------------------------------------------------

    def test_the_connector_declares_its_processors_published_api(self):
        assert "published_api" in {name for klass in type(self).__mro__ for name in vars(klass)}, (
            f"{type(self).__name__} must declare published_api: the processor's published API "
            "description (connectors/<name>/published_api.py), or None with published_api_absent"
        )
        if self.published_api is None:
            assert self.published_api_absent, "published_api = None needs its reason in published_api_absent"
            pytest.skip(f"{self.key} has no published API description: {self.published_api_absent}")
        assert isinstance(self.published_api, PublishedApi) and self.published_api.version

    def test_a_payment_and_its_refund_follow_the_published_api(self, bank, account):
        if getattr(self, "published_api", None) is None:
            pytest.skip(f"{self.key} has no published API description: {self.published_api_absent}")
        self.require(Flow.AUTHORIZE)
        payment = self.charged_payment(account)
        if self.connector_class.supports(Flow.REFUND):
            assert self.refund(payment).status == RefundStatus.SUCCEEDED
        contract = bank.app.contract
        assert contract.checked >= len(self.calls(payment)) > 0
        contract.assert_followed()

    # -- authorize and capture -----------------------------------------------------------------

    def test_authorize_with_automatic_capture_charges_the_full_amount(self, account):
        self.require(Flow.AUTHORIZE)
        payment = self.charged_payment(account)
        attempt = payment.latest_attempt
        assert (payment.amount_authorized, payment.amount_captured) == (self.amount, self.amount)
        assert attempt.status == AttemptStatus.CHARGED and attempt.connector_reference
        assert not payment.integrity_mismatch
        # Neither the card number nor a secret credential ever reaches the call log.
        secrets = [
            value
            for spec in self.connector_class.credential_fields
            if spec.secret
            for value in [self.credentials.get(spec.name, "")]
            if value
        ]
        for call in self.calls(payment):
            logged = f"{call.url} {call.request_headers} {call.request_body} {call.response_body}"
            if self.approving.card_number:
                assert self.approving.card_number not in logged
            assert not [secret for secret in secrets if secret in logged], f"a secret is in the {call.flow} call log"

    def test_authorize_only_holds_the_amount_for_a_later_capture(self, account):
        self.require(Flow.AUTHORIZE, Flow.CAPTURE, manual_capture=True)
        payment = self.authorized_payment(account)
        assert (payment.amount_authorized, payment.amount_captured) == (self.amount, 0)
        assert payment.latest_attempt.status == AttemptStatus.AUTHORIZED

    def test_capture_of_the_full_amount_succeeds(self, account):
        self.require(Flow.CAPTURE, manual_capture=True)
        payment = capture_payment(payment_pk=self.authorized_payment(account).pk)
        assert payment.status == PaymentStatus.SUCCEEDED, describe(payment)
        assert (payment.amount_captured, payment.amount_capturing) == (self.amount, 0)
        assert payment.latest_attempt.status == AttemptStatus.CHARGED

    def test_partial_capture_captures_only_the_amount_asked(self, account):
        self.require(Flow.CAPTURE, manual_capture=True)
        payment = capture_payment(payment_pk=self.authorized_payment(account).pk, amount=2000)
        assert payment.amount_captured == 2000
        if self.connector_class.supports_multiple_captures:
            assert payment.status == PaymentStatus.PARTIALLY_CAPTURED, describe(payment)
            assert payment.latest_attempt.status == AttemptStatus.PARTIALLY_CHARGED
        else:  # the one capture closes the authorization; the rest is released
            assert payment.status == PaymentStatus.SUCCEEDED, describe(payment)

    def test_multiple_captures_add_up_to_the_authorized_amount(self, account):
        self.require(Flow.CAPTURE, manual_capture=True, multiple_captures=True)
        payment = self.authorized_payment(account)
        capture_payment(payment_pk=payment.pk, amount=2000)
        payment = capture_payment(payment_pk=payment.pk, amount=3000)
        assert payment.status == PaymentStatus.SUCCEEDED, describe(payment)
        assert payment.amount_captured == 5000
        assert len(self.calls(payment, Flow.CAPTURE)) == 2

    def test_capture_above_the_authorized_amount_is_refused_before_the_connector_is_called(self, bank, account):
        self.require(Flow.CAPTURE, manual_capture=True)
        payment = self.authorized_payment(account)
        seen = bank.api_requests()
        with pytest.raises(PaymentError) as refused:
            capture_payment(payment_pk=payment.pk, amount=self.amount + 1)
        assert refused.value.code == "amount_too_large"
        assert bank.api_requests() == seen
        assert PaymentOperation.objects.get(pk=payment.pk).amount_capturing == 0

    # -- void ----------------------------------------------------------------------------------

    def test_void_cancels_an_authorization(self, account):
        self.require(Flow.VOID, manual_capture=True)
        payment = cancel_payment(payment_pk=self.authorized_payment(account).pk)
        assert payment.status == PaymentStatus.CANCELLED, describe(payment)
        assert payment.latest_attempt.status == AttemptStatus.VOIDED
        assert len(self.calls(payment, Flow.VOID)) == 1

    def test_void_after_capture_is_refused(self, bank, account):
        self.require(Flow.VOID, Flow.CAPTURE, manual_capture=True)
        payment = capture_payment(payment_pk=self.authorized_payment(account).pk)
        seen = bank.api_requests()
        with pytest.raises(PaymentError) as refused:
            cancel_payment(payment_pk=payment.pk)
        assert refused.value.code == "payment_unexpected_state"
        assert bank.api_requests() == seen, "the platform refuses without asking the bank"
        # The bank refuses too, as a definite error: nothing was voided and nothing is unknown.
        connector = account.build_connector()
        with pytest.raises(ConnectorError) as bank_refused:
            connector.call(Flow.VOID, payment_data_for(payment, payment.latest_attempt))
        assert not isinstance(bank_refused.value, (ConnectorUnknownOutcome, ConnectorUnavailable))
        assert PaymentOperation.objects.get(pk=payment.pk).status == PaymentStatus.SUCCEEDED

    # -- psync ---------------------------------------------------------------------------------

    def test_psync_of_an_authorized_payment_reports_authorized(self, account):
        self.require(Flow.PSYNC, manual_capture=True)
        payment = self.authorized_payment(account)
        attempt = sync_attempt(attempt_pk=payment.latest_attempt.pk)
        assert attempt.status == AttemptStatus.AUTHORIZED
        assert attempt.sync_count == 1 and len(self.calls(payment, Flow.PSYNC)) >= 1

    def test_psync_of_a_charged_payment_reports_charged(self, bank, account):
        self.require(Flow.PSYNC)
        payment = self.charged_payment(account)
        seen = bank.api_requests()
        sync_payment(payment_pk=payment.pk)
        assert bank.api_requests() == seen, "the platform does not ask about a settled attempt"
        attempt = payment.latest_attempt
        answer = run_flow(
            account.build_connector(),
            Flow.PSYNC,
            payment_data_for(payment, attempt),
            account=account,
            payment=payment,
            attempt=attempt,
        )
        assert answer.status == AttemptStatus.CHARGED
        assert answer.amount in (None, self.amount)

    def test_psync_of_a_pending_payment_reports_the_banks_decision(self, bank, account):
        self.require(Flow.PSYNC)
        payment = self.reach_pending(bank, account)
        attempt = payment.latest_attempt
        if self.pending_holds_until_settled:
            assert sync_attempt(attempt_pk=attempt.pk).status == AttemptStatus.PENDING
        self.settle_pending(bank, attempt)
        payment = settle_payment(payment)
        assert payment.status == PaymentStatus.SUCCEEDED, describe(payment)
        assert payment.amount_captured == payment.amount
        assert self.calls(payment, Flow.PSYNC)

    # -- refunds -------------------------------------------------------------------------------

    def test_full_refund_succeeds(self, bank, account):
        self.require(Flow.REFUND)
        payment = self.charged_payment(account)
        refund = self.refund(payment)
        assert (refund.status, refund.amount) == (RefundStatus.SUCCEEDED, self.amount), refund.error_message
        assert PaymentOperation.objects.get(pk=payment.pk).amount_refunded == self.amount
        seen = bank.api_requests()
        with pytest.raises(PaymentError) as again:
            create_refund(payment_pk=payment.pk)
        assert again.value.code == "charge_already_refunded" and bank.api_requests() == seen

    def test_partial_refund_refunds_only_the_amount_asked(self, account):
        self.require(Flow.REFUND, partial_refunds=True)
        payment = self.charged_payment(account)
        refund = self.refund(payment, 2000)
        assert (refund.status, refund.amount) == (RefundStatus.SUCCEEDED, 2000), refund.error_message
        payment = PaymentOperation.objects.get(pk=payment.pk)
        assert payment.amount_refunded == 2000 and refundable_amount(payment) == self.amount - 2000

    def test_multiple_refunds_add_up_to_the_captured_amount(self, account):
        self.require(Flow.REFUND, partial_refunds=True)
        payment = self.charged_payment(account)
        first, second = self.refund(payment, 2000), self.refund(payment, 3000)
        assert [first.status, second.status] == [RefundStatus.SUCCEEDED] * 2, second.error_message
        assert first.connector_reference != second.connector_reference
        assert PaymentOperation.objects.get(pk=payment.pk).amount_refunded == 5000

    def test_refund_above_captured_amount_is_refused_before_the_connector_is_called(self, bank, account):
        self.require(Flow.REFUND)
        payment = self.charged_payment(account)
        seen = bank.api_requests()
        with pytest.raises(PaymentError) as refused:
            create_refund(payment_pk=payment.pk, amount=payment.amount_captured + 1)
        assert refused.value.code == "amount_too_large"
        assert bank.api_requests() == seen
        assert not Refund.objects.filter(payment=payment).exists()

    def test_rsync_reports_the_refund_status(self, account):
        self.require(Flow.REFUND, Flow.RSYNC)
        payment = self.charged_payment(account)
        refund = self.refund(payment)
        assert refund.status == RefundStatus.SUCCEEDED, refund.error_message
        answer = run_flow(
            account.build_connector(),
            Flow.RSYNC,
            refund_data_for(refund),
            account=account,
            payment=payment,
            attempt=refund.attempt,
            refund=refund,
        )
        assert answer.status == RefundStatus.SUCCEEDED
        assert answer.amount in (None, refund.amount)

    # -- declines and errors -------------------------------------------------------------------

    def test_decline_is_mapped_with_the_banks_code_and_message(self, account):
        self.require(Flow.AUTHORIZE)
        payment = settle_payment(self.pay(account, self.declining))
        attempt = payment.latest_attempt
        assert payment.status == PaymentStatus.FAILED, describe(payment)
        assert attempt.status == AttemptStatus.FAILURE
        assert (attempt.error_code, payment.error_code) == (self.decline_code, self.decline_code), describe(payment)
        assert attempt.error_message and payment.error_message == attempt.error_message

    def test_bad_credentials_are_mapped_to_authentication_failure(self, bank, account, make_account):
        self.require(Flow.AUTHORIZE)
        refused = make_account(
            account.merchant,
            connector=self.key,
            base_url=bank.base_url,
            credentials=self.bad_credentials(),
            label="bad credentials",
        )
        payment = self.pay(refused, self.approving)
        assert payment.status == PaymentStatus.FAILED, describe(payment)
        assert payment.latest_attempt.error_code == "connector_authentication_failed", describe(payment)

    def test_connector_500_leaves_the_attempt_pending(self, bank, account):
        self.require(Flow.AUTHORIZE)
        bank.app.faults.arm(status=500)
        payment = self.pay(account, self.approving)
        assert payment.latest_attempt.status == AttemptStatus.PENDING, describe(payment)
        assert payment.status == PaymentStatus.PROCESSING
        assert self.calls(payment)[-1].status_code == 500

    def test_connector_503_fails_the_attempt_safe_to_retry(self, bank, account):
        self.require(Flow.AUTHORIZE)
        bank.app.faults.arm(status=503)
        payment = self.pay(account, self.approving)
        assert payment.status == PaymentStatus.FAILED, describe(payment)
        assert payment.latest_attempt.error_code == "connector_unavailable"

    def test_connection_refused_fails_safe_to_retry(self, account, make_account):
        self.require(Flow.AUTHORIZE)
        unreachable = make_account(
            account.merchant,
            connector=self.key,
            base_url=unused_port_url(),
            credentials=self.credentials,
            label="nobody listens",
        )
        payment = self.pay(unreachable, self.approving)
        assert payment.status == PaymentStatus.FAILED, describe(payment)
        assert payment.latest_attempt.error_code == "connector_unavailable"
        data = payment_data_for(payment, payment.latest_attempt, card=self.approving.card(), upi=self.approving.upi())
        with pytest.raises(ConnectorUnavailable) as error:
            unreachable.build_connector().call(self.first_flow(), data)
        assert error.value.retry_safe

    def test_read_timeout_after_send_leaves_the_attempt_pending(self, bank, account):
        self.require(Flow.AUTHORIZE)
        bank.app.faults.arm(delay=BANK_DELAY)
        with override_settings(CONNECTOR_READ_TIMEOUT=TINY_READ_TIMEOUT):
            payment = self.pay(account, self.approving)
        assert payment.latest_attempt.status == AttemptStatus.PENDING, describe(payment)
        assert payment.status == PaymentStatus.PROCESSING
        assert self.calls(payment)[-1].error.startswith("connector_timeout")
        assert bank.api_requests() >= 1, "the request reached the bank: the outcome is unknown, not failed"

    def test_malformed_json_leaves_the_attempt_pending(self, bank, account):
        self.require(Flow.AUTHORIZE)
        bank.app.faults.arm(garbage=True)
        payment = self.pay(account, self.approving)
        assert payment.latest_attempt.status == AttemptStatus.PENDING, describe(payment)
        assert payment.status == PaymentStatus.PROCESSING

    def test_answer_with_a_different_amount_is_flagged_and_never_charged(self, bank, account):
        self.require(Flow.AUTHORIZE)
        # Every request of the payment reports another amount; the first one that carries an
        # amount must be caught by the integrity check.
        bank.app.faults.arm(count=len(self.connector_class.pre_authorize_flows) + 1, wrong_amount=True)
        payment = self.pay(account, self.approving)
        attempt = payment.latest_attempt
        assert payment.integrity_mismatch, describe(payment)
        assert attempt.error_code == "integrity_mismatch"
        assert attempt.status == AttemptStatus.PENDING
        assert payment.amount_captured == 0 and payment.status == PaymentStatus.PROCESSING
        assert PaymentEvent.objects.filter(payment=payment, kind="integrity_mismatch").exists()

    # -- webhooks ------------------------------------------------------------------------------

    def test_webhook_with_a_bad_signature_is_rejected_and_a_good_one_applied(self, bank, account, webhooks):
        self.require(webhooks=True)
        payment = self.reach_pending(bank, account)
        attempt = payment.latest_attempt
        self.trigger_webhook(bank, attempt, account_webhook_url(account))
        caught = webhooks.wait_for(1, about=attempt.public_id)[0]
        forged = caught.body[:-1] + bytes([caught.body[-1] ^ 1])  # one bit changed after signing

        def deliver(body: bytes):
            return receive(
                connector_key=self.key,
                account_public_id=account.public_id,
                headers=caught.headers,
                body=body,
                source_address="127.0.0.1",
            )

        rejected = deliver(forged)
        assert (rejected.outcome, rejected.http_status) == (WebhookOutcome.REJECTED_SIGNATURE, 401)
        assert PaymentOperation.objects.get(pk=payment.pk).status == PaymentStatus.PROCESSING
        applied = deliver(caught.body)
        assert (applied.outcome, applied.http_status) == (WebhookOutcome.PROCESSED, 200), applied.event.outcome_detail
        payment = PaymentOperation.objects.get(pk=payment.pk)
        assert payment.status == PaymentStatus.SUCCEEDED, describe(payment)
        assert deliver(caught.body).outcome == WebhookOutcome.DUPLICATE

    # -- amounts -------------------------------------------------------------------------------

    def assert_amount_travels_exactly(self, account, amount: int, currency: str) -> None:
        payment = self.charged_payment(account, amount=amount, currency=currency)
        assert payment.amount_captured == amount and not payment.integrity_mismatch, describe(payment)
        on_the_wire = (
            str(amount)
            if self.connector_class.currency_unit == CurrencyUnit.MINOR
            else amounts.format_major(amount, currency)
        )
        sent = " ".join(call.request_body for call in self.calls(payment))
        assert on_the_wire in sent, f"{on_the_wire} {currency} is not in what was sent: {sent[:300]}"

    def test_zero_decimal_currency_amount_travels_exactly(self, account):
        self.require(Flow.AUTHORIZE)
        self.assert_amount_travels_exactly(account, ZERO_DECIMAL_AMOUNT, self.currency_with_decimals(0))

    def test_three_decimal_currency_amount_travels_exactly(self, account):
        self.require(Flow.AUTHORIZE)
        self.assert_amount_travels_exactly(account, THREE_DECIMAL_AMOUNT, self.currency_with_decimals(3))
