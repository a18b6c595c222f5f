"""Idempotency records: keyed fingerprints, encrypted answers, keys scoped per mode.

Records written before this migration hold an unkeyed SHA-256 of the raw request body (from
which a card number and CVC could be brute-forced) and the answer in clear (a webhook signing
secret, say). Both are erased here: the fingerprint becomes "" (no request matches it, so a retry
with such a key is refused, never run twice) and the answer is dropped. The mode of each old
record is taken from the object it created; one that created nothing is put in live mode, where
refusing a retry is the safe side. The schema changes follow in 0011 (PostgreSQL cannot ALTER a
table in the transaction that just updated its rows).
"""

from django.db import migrations, models


def erase_unkeyed_fingerprints(apps, schema_editor):
    IdempotencyRecord = apps.get_model("payments", "IdempotencyRecord")
    owners = {"pay_": (apps.get_model("payments", "PaymentOperation"), "mode"),
              "re_": (apps.get_model("payments", "Refund"), "payment__mode"),
              "pm_": (apps.get_model("payments", "SavedPaymentMethod"), "mode")}
    for record in IdempotencyRecord.objects.exclude(resource_id="").iterator():
        for prefix, (model, field) in owners.items():
            if record.resource_id.startswith(prefix):
                mode = model.objects.filter(public_id=record.resource_id).values_list(field, flat=True).first()
                if mode:
                    IdempotencyRecord.objects.filter(pk=record.pk).update(mode=mode)
    IdempotencyRecord.objects.filter(resource_id="").update(mode="live")
    IdempotencyRecord.objects.update(request_fingerprint="")


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0009_late_success_and_escalation"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="idempotencyrecord", name="unique_idempotency_key_per_merchant"),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="mode",
            field=models.CharField(choices=[("test", "Test"), ("live", "Live")], default="test", max_length=4),
        ),
        migrations.RunPython(erase_unkeyed_fingerprints, migrations.RunPython.noop),
    ]
