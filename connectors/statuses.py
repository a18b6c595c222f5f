"""The statuses a connector can report: the words of the connector contract.

An adapter answers a flow with an attempt status (``ConnectorResponse.status``) or a refund
status (``ConnectorResponse.refund_status``); the payments app stores them on its attempts and
refunds and maps them to a payment's status (``payments/state_machine.py``). They live here,
with the contract, so that a connector never needs the payments app to speak.
"""

from django.db import models


class AttemptStatus(models.TextChoices):
    STARTED = "started"
    PENDING = "pending"
    AUTHENTICATION_PENDING = "authentication_pending"
    AUTHORIZED = "authorized"
    CHARGED = "charged"
    PARTIALLY_CHARGED = "partially_charged"
    VOIDED = "voided"
    FAILURE = "failure"


class RefundStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
