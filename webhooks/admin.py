"""Webhooks in the back office.

Inbound bank events: the raw payload, the signature result, what processing made of it, and a
re-process action that runs ``webhooks.inbound.process`` again (idempotent: an event applied
once is a duplicate the second time). Outbound events to merchants: each delivery with every
try, and a resend action through ``webhooks.outbound.resend_event``."""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html

from connectors.masking import mask_headers
from payments.admin.overview import add_overview_section
from payments.admin.timeline import add_timeline_source, pretty_body, tone_of
from webhooks import backoffice, inbound, outbound
from webhooks.models import MerchantEvent, WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint, WebhookEvent

# The payments back office shows webhooks without importing this app: it is told here.
add_overview_section(backoffice.OVERVIEW_TEMPLATE, backoffice.overview_figures)
add_timeline_source("webhooks", backoffice.timeline_entries)


def _account_secrets(event) -> list[str]:
    try:
        return event.connector_account.build_connector().secret_values() if event.connector_account else []
    except Exception:  # the account's connector or key is gone: mask with the generic rules only
        return []


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "received_at",
        "connector",
        "connector_account",
        "event_type",
        "outcome_badge",
        "signature",
        "payment_link",
    ]
    list_filter = ["outcome", "connector", "signature_valid", "received_at"]
    search_fields = ["public_id", "event_id", "connector_reference", "payment__public_id"]
    list_select_related = ["connector_account", "payment"]
    date_hierarchy = "received_at"
    actions = ["reprocess_action"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "public_id",
                    "received_at",
                    "connector",
                    "connector_account",
                    "source_address",
                    "payment_link",
                    "attempt",
                    "refund",
                ]
            },
        ),
        (
            "Verification and processing",
            {
                "fields": [
                    "signature",
                    "outcome_badge",
                    "outcome_detail",
                    "event_id",
                    "event_type",
                    "connector_reference",
                    "processed_at",
                    "processing_count",
                ]
            },
        ),
        ("As received", {"fields": ["raw_headers", "raw_payload"]}),
    ]
    # Every field shown is read-only: an event is evidence, never edited.
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

    class Media:
        css = {"all": ["pagoflex/admin/backoffice.css"]}

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # A stored event is evidence: it is never edited, only re-processed.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_reprocess_permission(self, request, obj=None):
        return request.user.has_perm("webhooks.change_webhookevent")

    def get_urls(self):
        return [
            path(
                "<path:object_id>/reprocess/",
                self.admin_site.admin_view(self.reprocess_view),
                name="webhooks_webhookevent_reprocess",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = dict(extra_context or {})
        if self.has_reprocess_permission(request):
            extra["reprocess_url"] = reverse("admin:webhooks_webhookevent_reprocess", args=[object_id])
        return super().change_view(request, object_id, form_url, extra)

    # -- re-process ----------------------------------------------------------------------------

    @admin.action(description="Re-process the selected events", permissions=["reprocess"])
    def reprocess_action(self, request, queryset):
        for event in queryset:
            self._reprocess(request, event)

    def reprocess_view(self, request, object_id):
        """POST from the event page: run the pipeline again on the stored event."""
        event = self.get_object(request, object_id)  # None (a 404) for an id that is not one, never a 500
        if event is None:
            raise Http404("no such event")
        if request.method != "POST" or not self.has_reprocess_permission(request, event):
            raise PermissionDenied
        self._reprocess(request, event)
        return redirect(reverse("admin:webhooks_webhookevent_change", args=[event.pk]))

    @staticmethod
    def _reprocess(request, event):
        if event.connector_account is None:
            messages.error(
                request,
                f"{event.public_id}: no connector account matched this event's URL, so it "
                "cannot be verified or applied.",
            )
            return
        result = inbound.process(event)
        text = f"{event.public_id} re-processed by staff:{request.user.username}: {result.outcome}"
        if result.event.outcome_detail:
            text += f" ({result.event.outcome_detail})"
        level = messages.SUCCESS if result.http_status < 300 else messages.WARNING
        messages.add_message(request, level, text)

    # -- displays ------------------------------------------------------------------------------

    @admin.display(description="outcome", ordering="outcome")
    def outcome_badge(self, obj):
        return format_html('<span class="pf-badge pf-{}">{}</span>', tone_of(obj.outcome), obj.outcome)

    @admin.display(description="signature", ordering="signature_valid")
    def signature(self, obj):
        return {True: "valid", False: "invalid", None: "not checked"}[obj.signature_valid]

    @admin.display(description="payment")
    def payment_link(self, obj):
        if obj.payment_id is None:
            return "—"
        url = reverse("admin:payments_paymentoperation_change", args=[obj.payment_id])
        return format_html('<a href="{}">{}</a>', url, obj.payment.public_id)

    @admin.display(description="headers")
    def raw_headers(self, obj):
        secrets = _account_secrets(obj)
        return format_html("<pre>{}</pre>", json.dumps(mask_headers(obj.headers or {}, secrets), indent=2))

    @admin.display(description="payload")
    def raw_payload(self, obj):
        return format_html("<pre>{}</pre>", pretty_body(obj.body_text, _account_secrets(obj)))


# -- outbound: events sent to merchants and their deliveries -----------------------------------


class DeliveryAttemptInline(admin.TabularInline):
    model = WebhookDeliveryAttempt
    fields = ["created_at", "succeeded", "status_code", "latency_ms", "error", "response_excerpt"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ResendMixin:
    """Resend through ``webhooks.outbound.resend_event``, the service the API's resend uses."""

    def has_change_permission(self, request, obj=None):
        return False  # evidence: resent, never edited

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_resend_permission(self, request, obj=None):
        return request.user.has_perm("webhooks.change_webhookdelivery")

    @staticmethod
    def _resend(request, event, endpoint=None):
        deliveries = outbound.resend_event(event=event, endpoint=endpoint)
        targets = ", ".join(d.endpoint.url for d in deliveries) or "no endpoint wants this event"
        messages.success(request, f"{event.public_id} queued again by staff:{request.user.username}: {targets}")


@admin.register(MerchantEvent)
class MerchantEventAdmin(ResendMixin, admin.ModelAdmin):
    list_display = ["public_id", "type", "merchant", "mode", "payment", "created_at"]
    list_filter = ["type", "mode"]
    search_fields = ["public_id", "payment__public_id", "refund__public_id"]
    list_select_related = ["merchant", "payment"]
    fields = ["public_id", "type", "merchant", "mode", "payment", "refund", "created_at", "payload"]
    readonly_fields = fields
    actions = ["resend_action"]

    @admin.action(description="Resend the selected events to every endpoint that wants them", permissions=["resend"])
    def resend_action(self, request, queryset):
        for event in queryset:
            self._resend(request, event)

    @admin.display(description="payload")
    def payload(self, obj):
        return format_html("<pre>{}</pre>", pretty_body(json.dumps(obj.data)))


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ResendMixin, admin.ModelAdmin):
    list_display = [
        "event",
        "endpoint_url",
        "status_badge",
        "attempt_count",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "event__type"]
    search_fields = ["event__public_id", "event__payment__public_id", "endpoint__url", "endpoint__public_id"]
    list_select_related = ["event", "endpoint"]
    fields = [
        "event",
        "endpoint_url",
        "status_badge",
        "attempt_count",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "give_up_at",
        "delivered_at",
        "created_at",
    ]
    readonly_fields = fields
    inlines = [DeliveryAttemptInline]
    actions = ["resend_action"]

    class Media:
        css = {"all": ["pagoflex/admin/backoffice.css"]}

    @admin.action(description="Resend the selected deliveries", permissions=["resend"])
    def resend_action(self, request, queryset):
        for delivery in queryset.select_related("event", "endpoint"):
            self._resend(request, delivery.event, delivery.endpoint)

    @admin.display(description="endpoint")
    def endpoint_url(self, obj):
        return obj.endpoint.url

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return format_html('<span class="pf-badge pf-{}">{}</span>', tone_of(obj.status), obj.status)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Merchants manage their endpoints through the API; staff look. The signing secret is
    encrypted and never displayed."""

    list_display = ["public_id", "merchant", "mode", "url", "enabled", "created_at"]
    list_filter = ["mode", "enabled"]
    search_fields = ["public_id", "url", "merchant__name"]
    fields = ["public_id", "merchant", "mode", "url", "enabled_events", "description", "enabled", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
