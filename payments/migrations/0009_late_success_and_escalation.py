"""Late success (the payment's flag, the merchant's policy), the escalation of outcomes still
unknown (when each attempt or refund was escalated), the two merchant events they add, and the
escalation sweep's schedule (values frozen here, as in webhooks/0003_schedules; a row staff
already edited is left alone)."""

from django.db import migrations, models

SCHEDULE = ("escalation of unresolved outcomes", "payments.escalate_unresolved", 300,
            "Payments and refunds whose outcome is still unknown after UNRESOLVED_ESCALATE_AFTER: escalated to "
            "staff and the merchant once; late successes reported by webhook verified, and those a merchant's "
            "policy returns returned, when their task was lost.")


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    name, task, seconds, description = SCHEDULE
    interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
    PeriodicTask.objects.get_or_create(name=name, defaults={
        "task": task, "interval": interval, "description": description, "enabled": True})
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SCHEDULE[0]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("payments", "0008_merchant_return_url_hosts"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="merchant",
            name="late_success_policy",
            field=models.CharField(
                choices=[("notify", "notify: the merchant decides (refund or void it through the API)"),
                         ("return", "return: Pagoflex refunds it (or voids an authorization) at once")],
                default="notify", max_length=8),
        ),
        migrations.AddField(
            model_name="paymentattempt",
            name="escalated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="paymentoperation",
            name="late_success",
            field=models.BooleanField(db_index=True, default=False),
        ),
        migrations.AddField(
            model_name="refund",
            name="escalated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="merchantevent",
            name="type",
            field=models.CharField(choices=[
                ("payment.succeeded", "Payment Succeeded"), ("payment.failed", "Payment Failed"),
                ("payment.requires_capture", "Payment Requires Capture"),
                ("payment.requires_customer_action", "Payment Requires Customer Action"),
                ("payment.cancelled", "Payment Cancelled"), ("payment.captured", "Payment Captured"),
                ("payment.integrity_mismatch", "Payment Integrity Mismatch"),
                ("payment.late_success", "Payment Late Success"),
                ("payment.outcome_unresolved", "Payment Outcome Unresolved"),
                ("refund.succeeded", "Refund Succeeded"), ("refund.failed", "Refund Failed"),
                ("refund.outcome_unresolved", "Refund Outcome Unresolved")], db_index=True, max_length=64),
        ),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
