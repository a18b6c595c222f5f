"""Connector accounts (a merchant's credentials at one bank, encrypted) and the connector call log."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connectors import crypto
from connectors.ids import id_factory
from connectors.modes import Mode
from connectors.registry import UnknownConnector, get_connector_class


class ConnectorAccount(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=id_factory("mca"), editable=False)
    # The one pointer from connectors/ up to payments/: an account is a merchant's. By name, so
    # the connector layer needs no import of the payments app (docs/architecture.md).
    merchant = models.ForeignKey("payments.Merchant", on_delete=models.CASCADE, related_name="connector_accounts")
    connector = models.CharField(max_length=40, help_text="The connector's key, e.g. sandbox, paytm, authipay.")
    label = models.CharField(max_length=200)
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.TEST)
    enabled = models.BooleanField(default=True)
    priority = models.IntegerField(default=0, help_text="Higher goes first when no routing rule decides.")
    base_url_override = models.URLField(blank=True, max_length=500)
    # AES-GCM ciphertext ("v1:<key id>:<base64>") of the credentials JSON, bound to this row and field.
    credentials_encrypted = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "id"]

    def __str__(self):
        return f"{self.label} ({self.connector}, {self.mode})"

    # -- credentials ---------------------------------------------------------------------------

    @sensitive_variables("credentials")
    def set_credentials(self, credentials: dict) -> None:
        self.credentials_encrypted = crypto.encrypt_for_row(self, "credentials", credentials)

    def get_credentials(self) -> dict:
        if not self.credentials_encrypted:
            return {}
        return crypto.decrypt_for_row(self, "credentials", self.credentials_encrypted)

    def reencrypt(self) -> bool:
        """Re-encrypt under the keyring's current key; True when it changed."""
        if not self.credentials_encrypted:
            return False
        if crypto.get_keyring().key_id_of(self.credentials_encrypted) == crypto.get_keyring().current_key_id:
            return False
        self.set_credentials(self.get_credentials())
        return True

    # -- the connector -------------------------------------------------------------------------

    @property
    def connector_class(self):
        return get_connector_class(self.connector)

    @property
    def base_url(self) -> str:
        if self.base_url_override:
            return self.base_url_override
        configured = settings.CONNECTOR_BASE_URLS.get(self.connector_class.key)
        return configured or self.connector_class.default_base_url

    def build_connector(self):
        """An adapter instance holding this account's decrypted credentials."""
        return self.connector_class(credentials=self.get_credentials(), base_url=self.base_url)

    def clean(self):
        from django.core.exceptions import ValidationError

        try:
            get_connector_class(self.connector)
        except UnknownConnector as exc:
            raise ValidationError({"connector": str(exc)}) from None

    @property
    def webhook_path(self) -> str:
        return f"/webhooks/{self.connector_class.key}/{self.public_id}/"

    @property
    def webhook_url(self) -> str:
        """Where the bank sends this account's webhooks: ``PAGOFLEX_PUBLIC_URL`` + ``webhook_path``."""
        return settings.PAGOFLEX_PUBLIC_URL + self.webhook_path


class ConnectorCall(models.Model):
    """One HTTP exchange with a connector, masked: the evidence of what was asked and answered."""

    connector_account = models.ForeignKey(ConnectorAccount, on_delete=models.CASCADE, related_name="calls")
    payment = models.ForeignKey("payments.PaymentOperation", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="connector_calls")
    attempt = models.ForeignKey("payments.PaymentAttempt", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="connector_calls")
    refund = models.ForeignKey("payments.Refund", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="connector_calls")
    flow = models.CharField(max_length=40)
    method = models.CharField(max_length=10)
    url = models.CharField(max_length=2000)
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField(blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict)
    response_body = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=1000, blank=True)
    # The API request (or task, ``task_<id>``) that made the call: the same id as in its log
    # lines and its ``Request-Id`` answer header (observability/request_ids.py).
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.flow} {self.method} {self.status_code or self.error[:30]}"
