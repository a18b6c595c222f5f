"""Keeps ``Merchant.has_webhook_endpoints`` true exactly while the merchant has an endpoint, for
every way an endpoint is saved or deleted (the API's services, the admin, a shell)."""

from django.db.models import Exists, OuterRef
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from payments.models import Merchant
from webhooks.models import WebhookEndpoint


@receiver(post_save, sender=WebhookEndpoint, dispatch_uid="endpoint_saved_marks_merchant")
def endpoint_saved(sender, instance, **kwargs):
    Merchant.objects.filter(pk=instance.merchant_id, has_webhook_endpoints=False).update(has_webhook_endpoints=True)


@receiver(post_delete, sender=WebhookEndpoint, dispatch_uid="endpoint_deleted_updates_merchant")
def endpoint_deleted(sender, instance, **kwargs):
    Merchant.objects.filter(pk=instance.merchant_id).update(
        has_webhook_endpoints=Exists(WebhookEndpoint.objects.filter(merchant=OuterRef("pk"))))
