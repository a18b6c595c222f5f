"""The background jobs' schedule, in django-celery-beat's tables so staff can see and tune it in
the admin. The values are frozen here (a migration must not change when the code does); a row a
member of staff already edited is left alone."""

from django.db import migrations

# name -> (task, every N seconds, description)
SCHEDULES = {
    "payment sync sweep": ("payments.sweep_payment_syncs", 10,
                           "Sync pending and customer-action attempts that are due (backoff 30 s doubling, capped 1 h)."),
    "refund sync sweep": ("payments.sweep_refund_syncs", 30, "Sync pending refunds that are due."),
    "webhook delivery retries": ("webhooks.retry_deliveries", 10,
                                 "Deliver merchant events whose first try or retry is due."),
    "expiry of abandoned payments": ("payments.expire_abandoned_payments", 60,
                                     "Payments waiting for the customer past PAYMENT_CUSTOMER_ACTION_TTL: "
                                     "synced once more, then failed with code expired."),
    "purge of old idempotency records": ("payments.purge_idempotency_records", 3600,
                                         "Forget Idempotency-Key answers older than IDEMPOTENCY_RETENTION_HOURS."),
}


def create_schedules(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    for name, (task, seconds, description) in SCHEDULES.items():
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.get_or_create(name=name, defaults={
            "task": task, "interval": interval, "description": description, "enabled": True})
    # Tells a running beat to reload its schedule (what the model's save signal does normally).
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=list(SCHEDULES)).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("webhooks", "0002_outbound"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
