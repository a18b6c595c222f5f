"""Back office, first cut: merchants and their keys, payments with attempts, calls and events.

The admin never changes a payment by saving a form: payments are read-only here, and
actions (issue 7) go through the same services as the API.
"""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html

from connectors import amounts
from connectors.models import ConnectorCall
from payments.models import ApiKey, Merchant, PaymentAttempt, PaymentEvent, PaymentOperation, Refund


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ApiKeyInline(ReadOnlyInline):
    model = ApiKey
    fields = ["prefix", "mode", "label", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ["name", "public_id", "created_at"]
    search_fields = ["name", "public_id"]
    readonly_fields = ["public_id", "created_at"]
    inlines = [ApiKeyInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "merchant", "mode", "label", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["mode"]
    search_fields = ["prefix", "merchant__name", "merchant__public_id"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["merchant", "mode", "label"]
        return ["merchant", "mode", "label", "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["merchant", "mode", "prefix", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        api_key, raw_key = ApiKey.issue(obj.merchant, mode=obj.mode, label=obj.label)
        obj.pk = api_key.pk
        obj.prefix, obj.key_hash = api_key.prefix, api_key.key_hash
        messages.warning(request, format_html(
            "New API key, shown this once — copy it now: <code>{}</code>", raw_key))

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        messages.success(request, f"{count} key(s) revoked.")


class AttemptInline(ReadOnlyInline):
    model = PaymentAttempt
    fields = ["public_id", "connector", "connector_account", "status", "connector_reference", "error_code",
              "error_message", "created_at"]
    readonly_fields = fields


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ["public_id", "amount", "status", "reason", "connector_reference", "error_code", "created_at"]
    readonly_fields = fields


class ConnectorCallInline(ReadOnlyInline):
    model = ConnectorCall
    fields = ["created_at", "flow", "method", "url", "status_code", "latency_ms", "error", "request_body",
              "response_body"]
    readonly_fields = fields


class PaymentEventInline(ReadOnlyInline):
    model = PaymentEvent
    fields = ["created_at", "kind", "from_status", "to_status", "message", "actor"]
    readonly_fields = fields


@admin.register(PaymentOperation)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["public_id", "status", "formatted_amount", "merchant", "card_last4", "created_at"]
    list_filter = ["status", "mode", "integrity_mismatch", "merchant"]
    search_fields = ["public_id", "merchant_reference", "customer_email", "card_last4",
                     "attempts__connector_reference"]
    date_hierarchy = "created_at"
    inlines = [AttemptInline, RefundInline, ConnectorCallInline, PaymentEventInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in PaymentOperation._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="amount", ordering="amount")
    def formatted_amount(self, obj):
        return f"{amounts.format_major(obj.amount, obj.currency)} {obj.currency}"
