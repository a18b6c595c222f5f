from django.db import migrations, models


class Migration(migrations.Migration):
    """Issue 15: a capture whose answer was lost, and a void in flight, are reservations of their own."""

    dependencies = [("payments", "0011_idempotency_encrypted_answer")]

    operations = [
        migrations.AddField(
            model_name="paymentoperation",
            name="amount_capture_unknown",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="paymentoperation",
            name="cancelling",
            field=models.BooleanField(default=False),
        ),
    ]
