"""Connector accounts: credential fields come from the connector's declaration; secrets are
write-only (shown masked, an empty field keeps the stored value) and stored encrypted.
Nobody, superusers included, is ever shown a secret in clear; a "check connection" action runs
the connector's harmless check flow, and the call log keeps the masked exchange."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from connectors import services
from connectors.masking import (
    MASK,
    mask_card_data,
    mask_declared_fields,
    mask_headers,
    mask_secret_for_display,
    mask_text,
)
from connectors.models import ConnectorAccount, ConnectorCall
from connectors.registry import UnknownConnector, all_connectors, get_connector_class

CREDENTIAL_PREFIX = "credential_"


class ConnectorAccountForm(forms.ModelForm):
    class Meta:
        model = ConnectorAccount
        fields = ["merchant", "connector", "label", "mode", "enabled", "priority", "base_url_override"]

    @sensitive_variables("stored", "current", "field")
    def __init__(self, *args, connector_key: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        key = connector_key or self.instance.connector or self.data.get("connector", "")
        self.fields["connector"].widget = forms.Select(
            choices=[(c.key, c.display_name or c.key) for c in all_connectors()]
        )
        if key:
            self.fields["connector"].initial = key
        self.connector_class = None
        try:
            self.connector_class = get_connector_class(key) if key else None
        except UnknownConnector:
            self.connector_class = None
        stored = self.instance.get_credentials() if self.instance.pk else {}
        for spec in getattr(self.connector_class, "credential_fields", ()):
            current = stored.get(spec.name, "")
            if spec.secret:
                field = forms.CharField(
                    label=spec.label,
                    required=spec.required and not current,
                    strip=True,
                    widget=forms.PasswordInput(
                        render_value=False,
                        attrs={
                            "placeholder": mask_secret_for_display(current) if current else "",
                            "autocomplete": "off",
                        },
                    ),
                    help_text=(spec.help_text + (" Leave empty to keep the stored value." if current else "")).strip(),
                )
            else:
                field = forms.CharField(
                    label=spec.label, required=spec.required, initial=current, help_text=spec.help_text
                )
            self.fields[CREDENTIAL_PREFIX + spec.name] = field

    @sensitive_variables("stored", "credentials", "value", "cleaned")
    def clean(self):
        cleaned = super().clean()
        if self.connector_class is None:
            return cleaned
        if cleaned.get("connector") and cleaned["connector"] != self.connector_class.key and self.instance.pk:
            self.add_error("connector", "the connector of an existing account cannot change")
        stored = self.instance.get_credentials() if self.instance.pk else {}
        credentials = {}
        for spec in self.connector_class.credential_fields:
            value = cleaned.get(CREDENTIAL_PREFIX + spec.name, "")
            value = value or (stored.get(spec.name, "") if spec.secret else "")
            if value:
                credentials[spec.name] = value
        self._credentials_follow_the_destination(cleaned)
        for name, message in self.connector_class.validate_credentials(credentials).items():
            self.add_error(CREDENTIAL_PREFIX + name if CREDENTIAL_PREFIX + name in self.fields else None, message)
        self.credentials = credentials
        return cleaned

    def _credentials_follow_the_destination(self, cleaned) -> None:
        """Where the stored secrets are sent changes only with the secrets typed again.

        Whoever may edit an account may point it anywhere; if the stored secrets followed, anyone
        with that right (Operations) could read them: point the URL at their own listener and
        press *Check connection*. So a change of the bank URL the account uses (by whatever
        field makes it) keeps no stored secret: each is typed again, by someone who knows it.
        """
        if not self.instance.pk:
            return  # a new account: every secret is typed in this form anyway
        stored = ConnectorAccount.objects.filter(pk=self.instance.pk).first()
        if stored is None:
            return
        proposed = ConnectorAccount(connector=self.connector_class.key,
                                    base_url_override=cleaned.get("base_url_override") or "")
        if proposed.base_url.rstrip("/") == stored.base_url.rstrip("/"):
            return
        for spec in self.connector_class.credential_fields:
            name = CREDENTIAL_PREFIX + spec.name
            if spec.secret and not cleaned.get(name) and name in self.fields:
                self.add_error(name, f"the bank URL changes: type the {spec.label} again (stored secrets are "
                                     "only sent to the URL they were entered for)")

    def save(self, commit=True):
        account = super().save(commit=False)
        account.set_credentials(self.credentials)
        if commit:
            account.save()
        return account


def insecure_live_url(account: ConnectorAccount) -> bool:
    """A live account whose bank URL is not HTTPS would send credentials and card data in clear."""
    try:
        base_url = account.base_url
    except UnknownConnector:
        return False
    return account.mode == "live" and not base_url.lower().startswith("https://")


@admin.register(ConnectorAccount)
class ConnectorAccountAdmin(admin.ModelAdmin):
    form = ConnectorAccountForm
    list_display = ["label", "public_id", "merchant", "connector", "mode", "enabled", "priority", "base_url_shown"]
    list_editable = ["enabled", "priority"]
    list_filter = ["connector", "mode", "enabled"]
    search_fields = ["label", "public_id", "merchant__name"]
    readonly_fields = ["public_id", "webhook_url", "base_url_in_use"]
    actions = ["check_connection_action"]

    class Media:
        css = {"all": ["pagoflex/admin/backoffice.css"]}
        js = ["pagoflex/admin/backoffice.js"]

    @method_decorator(sensitive_post_parameters())
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Every POST parameter of the account form is hidden from error reports: credentials.
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The model fields only: the credential fields are added by the form for its connector,
        # and the fieldsets (which list them) must not be asked for here (they ask for the form).
        fields = kwargs.get("fields") or ConnectorAccountForm.Meta.fields
        kwargs["fields"] = [name for name in fields if not name.startswith(CREDENTIAL_PREFIX)]
        form_class = super().get_form(request, obj, change=change, **kwargs)
        connector_key = request.GET.get("connector", "") if obj is None else obj.connector

        class BoundForm(form_class):
            def __init__(self, *args, **inner):
                super().__init__(*args, connector_key=connector_key, **inner)

        return BoundForm

    def get_fieldsets(self, request, obj=None):
        form = self.get_form(request, obj)()
        credential_names = [name for name in form.fields if name.startswith(CREDENTIAL_PREFIX)]
        main = ["merchant", "connector", "label", "mode", "enabled", "priority", "base_url_override"]
        fieldsets = [(None, {"fields": (["public_id"] if obj else []) + main + (["base_url_in_use"] if obj else [])})]
        fieldsets.append(("Credentials (stored encrypted; secrets are never shown)", {"fields": credential_names}))
        if obj:
            fieldsets.append(("Webhooks", {"fields": ["webhook_url"]}))
        return fieldsets

    def get_urls(self):
        return [
            path(
                "<path:object_id>/check-connection/",
                self.admin_site.admin_view(self.check_connection_view),
                name="connectors_connectoraccount_check_connection",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        if request.method == "GET" and "connector" not in request.GET:
            if not self.has_add_permission(request):
                raise PermissionDenied
            return render(
                request,
                "admin/connectors/choose_connector.html",
                {
                    **self.admin_site.each_context(request),
                    # Plain values: a template would call a class (to instantiate it) before reading it.
                    "connectors": [
                        {
                            "key": c.key,
                            "display_name": c.display_name or c.key,
                            "payment_method_types": sorted(c.payment_method_types),
                        }
                        for c in all_connectors()
                    ],
                    "opts": self.model._meta,
                    "title": "Choose the connector",
                },
            )
        return super().add_view(request, form_url, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = dict(extra_context or {})
        if self.has_change_permission(request):
            extra["check_connection_url"] = reverse(
                "admin:connectors_connectoraccount_check_connection", args=[object_id]
            )
        return super().change_view(request, object_id, form_url, extra)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if insecure_live_url(obj):
            messages.warning(
                request,
                f"{obj.label} is a live account and its bank URL {obj.base_url} is not "
                "HTTPS: credentials and card data would travel in clear.",
            )

    # -- check connection ----------------------------------------------------------------------

    @admin.action(description="Check the connection of the selected accounts", permissions=["change"])
    def check_connection_action(self, request, queryset):
        for account in queryset:
            self._report_check(request, account)

    @staticmethod
    def _report_check(request, account):
        result = services.check_connection(account=account, actor=f"staff:{request.user.username}")
        secrets = account.build_connector().secret_values()
        detail = mask_text(result.message, secrets)
        timing = f"HTTP {result.status_code}, {result.latency_ms} ms" if result.status_code else "no answer"
        if result.ok:
            messages.success(request, f"{account.label}: connection OK ({timing}): {detail}")
        else:
            messages.error(request, f"{account.label}: connection failed ({timing}): {detail}")

    def check_connection_view(self, request, object_id):
        """POST from the account page: check the connection, then back to the page with the result."""
        return _check_connection(self, request, object_id)

    # -- read-only displays --------------------------------------------------------------------

    @admin.display(description="webhook URL to give the bank")
    def webhook_url(self, obj):
        if not (obj and obj.pk):
            return ""
        return format_html(
            '<span class="pf-copy"><input type="text" id="webhook-url" readonly value="{}"> '
            '<button type="button" class="button" data-copy-target="webhook-url">Copy</button></span>',
            obj.webhook_url,
        )

    @admin.display(description="bank URL in use")
    def base_url_in_use(self, obj):
        if not (obj and obj.pk):
            return ""
        try:
            base_url = obj.base_url
        except UnknownConnector:
            return "—"
        source = "the override above" if obj.base_url_override else "the connector's default or the environment"
        if insecure_live_url(obj):
            return format_html(
                '{} (from {}) <span class="pf-warning">Warning: a live account must use HTTPS.</span>', base_url, source
            )
        return format_html("{} (from {})", base_url, source)

    @admin.display(description="bank URL")
    def base_url_shown(self, obj):
        if insecure_live_url(obj):
            return format_html('<span class="pf-warning" title="live account without HTTPS">⚠ {}</span>', obj.base_url)
        try:
            return obj.base_url
        except UnknownConnector:
            return "—"


def _check_connection(model_admin, request, object_id):
    # get_object answers None for an id that is not one (a 404), where a bare pk lookup raised (a 500).
    account = model_admin.get_object(request, object_id)
    if account is None:
        raise Http404("no such connector account")
    if not model_admin.has_change_permission(request, account):
        raise PermissionDenied
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    model_admin._report_check(request, account)
    return redirect(reverse("admin:connectors_connectoraccount_change", args=[account.pk]))


@admin.register(ConnectorCall)
class ConnectorCallAdmin(admin.ModelAdmin):
    list_display = ["created_at", "connector_account", "flow", "method", "status_code", "latency_ms", "error"]
    list_filter = ["flow", "status_code"]
    search_fields = ["payment__public_id", "url"]
    list_select_related = ["connector_account"]

    # Shown masked again (rows logged before a rule existed, values a rule learnt since).
    MASKED_FIELDS = ("url", "request_headers", "request_body", "response_headers", "response_body", "error")

    def get_fields(self, request, obj=None):
        return [f"{field.name}_masked" if field.name in self.MASKED_FIELDS else field.name
                for field in ConnectorCall._meta.fields]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @staticmethod
    def _remask(obj, value) -> str:
        try:
            secrets = obj.connector_account.build_connector().secret_values()
        except Exception:  # the account's connector or key is gone: the generic rules still apply
            secrets = []
        text = value if isinstance(value, str) else json.dumps(value, indent=2)
        for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
            text = text.replace(secret, MASK)
        return mask_declared_fields(mask_card_data(text))

    def url_masked(self, obj):
        return self._remask(obj, obj.url)

    def request_headers_masked(self, obj):
        return self._remask(obj, mask_headers(obj.request_headers or {}))

    def request_body_masked(self, obj):
        return self._remask(obj, obj.request_body)

    def response_headers_masked(self, obj):
        return self._remask(obj, mask_headers(obj.response_headers or {}))

    def response_body_masked(self, obj):
        return self._remask(obj, obj.response_body)

    def error_masked(self, obj):
        return self._remask(obj, obj.error)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
