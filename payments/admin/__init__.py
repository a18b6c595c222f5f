"""Back office: merchants and their keys, and payments to investigate.

The admin never changes a payment by saving a form: payments are read-only here, and the
actions (sync, capture, cancel, refund) go through the same services as the API, from
``payments/admin/views.py``. The payment page shows one timeline of everything that happened.
"""

from django.contrib import admin, messages
from django.contrib.admin import DateFieldListFilter
from django.db.models import Exists, OuterRef, Subquery
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from connectors import amounts
from payments.admin import unresolved as admin_unresolved
from payments.admin import views as admin_views
from payments.admin.timeline import build_timeline, tone_of
from payments.models import ApiKey, Merchant, PaymentAttempt, PaymentOperation, Refund

admin.site.site_header = "Pagoflex back office"
admin.site.site_title = "Pagoflex back office"
admin.site.index_template = "admin/payments/index.html"


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
        messages.warning(request, format_html("New API key, shown this once — copy it now: <code>{}</code>", raw_key))

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        messages.success(request, f"{count} key(s) revoked.")


class AttemptInline(ReadOnlyInline):
    model = PaymentAttempt
    fields = [
        "public_id",
        "connector",
        "connector_account",
        "status",
        "connector_reference",
        "error_code",
        "error_message",
        "created_at",
    ]
    readonly_fields = fields


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ["public_id", "refund_amount", "status", "reason", "connector_reference", "error_code", "created_at"]
    readonly_fields = fields

    @admin.display(description="amount")
    def refund_amount(self, obj):
        return _money(obj.amount, obj.currency)


class ConnectorFilter(admin.SimpleListFilter):
    title = "connector"
    parameter_name = "connector"

    def lookups(self, request, model_admin):
        keys = PaymentAttempt.objects.order_by("connector").values_list("connector", flat=True).distinct()
        return [(key, key) for key in keys]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(attempts__connector=self.value()).distinct()
        return queryset


class HasRefundsFilter(admin.SimpleListFilter):
    title = "refunds"
    parameter_name = "has_refunds"

    def lookups(self, request, model_admin):
        return [("yes", "with refunds"), ("no", "without refunds")]

    def queryset(self, request, queryset):
        refunds = Refund.objects.filter(payment=OuterRef("pk"))
        if self.value() == "yes":
            return queryset.filter(Exists(refunds))
        if self.value() == "no":
            return queryset.filter(~Exists(refunds))
        return queryset


def status_badge(status: str):
    return format_html('<span class="pf-badge pf-{}">{}</span>', tone_of(status), status.replace("_", " "))


@admin.register(PaymentOperation)
class PaymentAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "status_badge",
        "formatted_amount",
        "connector",
        "merchant",
        "card_last4",
        "customer_email",
        "created_at",
    ]
    list_filter = [
        "status",
        ConnectorFilter,
        "merchant",
        ("created_at", DateFieldListFilter),
        HasRefundsFilter,
        "integrity_mismatch",
        "late_success",
        "mode",
    ]
    # "=card_last4": four digits match exactly, so 4242 finds the card, not every id containing 4242.
    search_fields = [
        "public_id",
        "=card_last4",
        "merchant_reference",
        "customer_email",
        "attempts__connector_reference",
    ]
    search_help_text = "Payment id, last four digits, merchant reference, customer email or connector reference."
    date_hierarchy = "created_at"
    list_select_related = ["merchant"]
    inlines = [AttemptInline, RefundInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "public_id",
                    "merchant",
                    "mode",
                    "status_badge",
                    "formatted_amount",
                    "formatted_authorized",
                    "formatted_captured",
                    "formatted_refunded",
                    "capture_method",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
        (
            "Payment method",
            {"fields": ["payment_method_type", "payment_method_details", "card_last4", "saved_payment_method"]},
        ),
        (
            "Customer and references",
            {
                "fields": [
                    "customer_email",
                    "customer",
                    "merchant_reference",
                    "description",
                    "metadata",
                    "return_url",
                    "requested_connector",
                ]
            },
        ),
        ("Problems", {"fields": ["error_code", "error_message", "integrity_mismatch", "late_success", "next_action"]}),
    ]
    readonly_fields = [
        "status_badge",
        "formatted_amount",
        "formatted_authorized",
        "formatted_captured",
        "formatted_refunded",
        *[field.name for field in PaymentOperation._meta.fields],
    ]

    class Media:
        css = {"all": ["pagoflex/admin/backoffice.css"]}
        js = ["pagoflex/admin/backoffice.js"]

    def get_queryset(self, request):
        latest_connector = PaymentAttempt.objects.filter(payment=OuterRef("pk")).order_by("-created_at", "-id")
        return (
            super().get_queryset(request).annotate(latest_connector=Subquery(latest_connector.values("connector")[:1]))
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Nobody edits a payment through a form; actions call the services.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("overview/", view(lambda request: admin_views.overview_view(self, request)), name="payments_overview"),
            path("unresolved/", view(lambda request: admin_unresolved.unresolved_view(self, request)),
                 name="payments_unresolved"),
            path("unresolved/sync/<str:kind>/<int:pk>/",
                 view(lambda request, kind, pk: admin_unresolved.unresolved_sync_view(self, request, kind, pk)),
                 name="payments_unresolved_sync"),
            path(
                "<path:object_id>/action/<str:action_name>/",
                view(
                    lambda request, object_id, action_name: admin_views.payment_action_view(
                        self, request, object_id, action_name
                    )
                ),
                name="payments_paymentoperation_action",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(
            request, {**(extra_context or {}), "overview_url": reverse("admin:payments_overview")}
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        payment = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if payment is not None:
            extra["timeline"] = build_timeline(payment)
            extra["payment_actions"] = [
                (action, reverse("admin:payments_paymentoperation_action", args=[payment.pk, action.name]))
                for action in admin_views.available_actions(request.user)
            ]
        return super().change_view(request, object_id, form_url, extra)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return status_badge(obj.status)

    @admin.display(description="connector", ordering="latest_connector")
    def connector(self, obj):
        return getattr(obj, "latest_connector", None) or "—"

    @admin.display(description="amount", ordering="amount")
    def formatted_amount(self, obj):
        return _money(obj.amount, obj.currency)

    @admin.display(description="authorized")
    def formatted_authorized(self, obj):
        return _money(obj.amount_authorized, obj.currency)

    @admin.display(description="captured")
    def formatted_captured(self, obj):
        return _money(obj.amount_captured, obj.currency)

    @admin.display(description="refunded")
    def formatted_refunded(self, obj):
        return _money(obj.amount_refunded, obj.currency)


def _money(amount: int, currency: str) -> str:
    return f"{amounts.format_major(amount, currency)} {currency}"
