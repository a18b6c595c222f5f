"""Idempotency records: the answer is kept encrypted, and a key is unique per merchant and mode
(the data migration 0010 has erased the old clear answers and unkeyed fingerprints)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0010_idempotency_keyed_fingerprint"),
    ]

    operations = [
        migrations.RemoveField(model_name="idempotencyrecord", name="response_body"),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="response_encrypted",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AddConstraint(
            model_name="idempotencyrecord",
            constraint=models.UniqueConstraint(fields=("merchant", "mode", "key"),
                                               name="unique_idempotency_key_per_merchant_mode"),
        ),
    ]
