"""The outbox model moved from the webhooks app to the payments app without moving data:
the migrations only change Django's state, so the table, its rows and the roles' grants stay."""

import importlib
from io import StringIO
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from payments.models import MerchantEvent
from webhooks.models import WebhookDelivery

moved = importlib.import_module("webhooks.migrations.0004_merchant_event_moves_to_payments")
# The data step reads only the connection's alias (SQLite's schema editor refuses to open in a
# test's transaction).
_editor = SimpleNamespace(connection=connection)


def _columns(model):
    return sorted((field.column, field.db_type(connection)) for field in model._meta.local_fields)


@pytest.mark.django_db
def test_the_moved_model_uses_the_table_and_columns_the_webhooks_app_created():
    before = MigrationExecutor(connection).loader.project_state(("webhooks", "0003_schedules")).apps
    old = before.get_model("webhooks", "MerchantEvent")
    assert old._meta.db_table == MerchantEvent._meta.db_table == "webhooks_merchantevent"
    assert _columns(old) == _columns(MerchantEvent)
    assert [index.name for index in old._meta.indexes] == [index.name for index in MerchantEvent._meta.indexes]
    # The deliveries' foreign key names the same table before and after.
    old_target = before.get_model("webhooks", "WebhookDelivery")._meta.get_field("event").related_model
    assert old_target._meta.db_table == WebhookDelivery._meta.get_field("event").related_model._meta.db_table


@pytest.mark.django_db
def test_the_migrations_describe_the_models_as_they_are():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_the_content_type_moves_with_the_model_and_the_support_role_keeps_its_grant():
    support = Group.objects.get(name="Support")
    view = Permission.objects.get(content_type__app_label="payments", codename="view_merchantevent")
    assert view in support.permissions.all()

    moved.move_content_type_back(apps, _editor)
    assert list(ContentType.objects.filter(model="merchantevent").values_list("app_label", flat=True)) == ["webhooks"]
    assert support.permissions.filter(pk=view.pk, content_type__app_label="webhooks").exists()

    ContentType.objects.clear_cache()
    ContentType.objects.create(app_label="payments", model="merchantevent")  # what post_migrate would add
    moved.move_content_type(apps, _editor)
    ContentType.objects.clear_cache()
    assert list(ContentType.objects.filter(model="merchantevent").values_list("app_label", flat=True)) == ["payments"]
    assert support.permissions.filter(pk=view.pk, content_type__app_label="payments").exists()
