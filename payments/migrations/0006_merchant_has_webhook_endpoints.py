from django.db import migrations, models
from django.db.models import Exists, OuterRef


def mark_merchants_with_endpoints(apps, schema_editor):
    Merchant = apps.get_model("payments", "Merchant")
    WebhookEndpoint = apps.get_model("webhooks", "WebhookEndpoint")
    Merchant.objects.update(has_webhook_endpoints=Exists(WebhookEndpoint.objects.filter(merchant=OuterRef("pk"))))


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0005_idempotency_recovery_point"),
        ("webhooks", "0002_outbound"),
    ]

    operations = [
        migrations.AddField(
            model_name="merchant",
            name="has_webhook_endpoints",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.RunPython(mark_merchants_with_endpoints, migrations.RunPython.noop),
    ]
