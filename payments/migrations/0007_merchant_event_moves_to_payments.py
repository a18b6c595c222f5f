"""The outbox (MerchantEvent) moves from the webhooks app to the payments app, which writes it.

State only: the table keeps its name (``webhooks_merchantevent``), its rows, its index and the
foreign keys that point at it; nothing is copied. ``webhooks/0004`` then points the deliveries
at this model, drops the old one from the webhooks app's state and moves the content type, so
the permissions (and the staff roles that hold them) follow the model.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

import connectors.ids


class Migration(migrations.Migration):

    dependencies = [
        ("payments", "0006_merchant_has_webhook_endpoints"),
        # The table is created by webhooks/0002; it must exist before this model claims it.
        ("webhooks", "0003_schedules"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="MerchantEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("public_id", models.CharField(default=connectors.ids.id_factory("evt"), editable=False, max_length=40, unique=True)),
                        ("mode", models.CharField(choices=[("test", "Test"), ("live", "Live")], default="test", max_length=4)),
                        ("type", models.CharField(choices=[("payment.succeeded", "Payment Succeeded"), ("payment.failed", "Payment Failed"), ("payment.requires_capture", "Payment Requires Capture"), ("payment.requires_customer_action", "Payment Requires Customer Action"), ("payment.cancelled", "Payment Cancelled"), ("payment.captured", "Payment Captured"), ("payment.integrity_mismatch", "Payment Integrity Mismatch"), ("refund.succeeded", "Refund Succeeded"), ("refund.failed", "Refund Failed")], db_index=True, max_length=64)),
                        ("data", models.JSONField(default=dict)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("merchant", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="payments.merchant")),
                        ("payment", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="merchant_events", to="payments.paymentoperation")),
                        ("refund", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="merchant_events", to="payments.refund")),
                    ],
                    options={
                        "db_table": "webhooks_merchantevent",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [models.Index(fields=["merchant", "mode", "-created_at", "-id"], name="webhooks_me_merchan_4be52a_idx")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
