"""The outbox (MerchantEvent) now belongs to the payments app (``payments/0007``).

State only for the schema: deliveries point at ``payments.MerchantEvent`` (the same table, so
the foreign key in the database is unchanged) and the webhooks app forgets its copy. The
content type moves with the model, so its permissions, and the Support and Operations roles
that hold them (``payments/0003``), stay attached.
"""

import django.db.models.deletion
from django.db import migrations, models


def move_content_type(apps, schema_editor, source="webhooks", target="payments"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(schema_editor.connection.alias).filter(model="merchantevent")
    if not types.filter(app_label=source).exists():
        return  # a fresh database: post_migrate creates the type in its new app
    # A type in the target app can only be one post_migrate created after a rollback of this
    # migration: empty of grants, it gives way to the one the roles hold.
    types.filter(app_label=target).delete()
    types.filter(app_label=source).update(app_label=target)


def move_content_type_back(apps, schema_editor):
    move_content_type(apps, schema_editor, source="payments", target="webhooks")


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("payments", "0007_merchant_event_moves_to_payments"),
        ("webhooks", "0003_schedules"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="webhookdelivery",
                    name="event",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="deliveries", to="payments.merchantevent"),
                ),
                migrations.DeleteModel(name="MerchantEvent"),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
