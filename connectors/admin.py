"""Connector accounts: credential fields come from the connector's declaration; secrets are
write-only (shown masked, an empty field keeps the stored value) and stored encrypted."""

from django import forms
from django.contrib import admin
from django.shortcuts import render

from connectors.masking import mask_secret_for_display
from connectors.models import ConnectorAccount, ConnectorCall
from connectors.registry import UnknownConnector, all_connectors, get_connector_class

CREDENTIAL_PREFIX = "credential_"


class ConnectorAccountForm(forms.ModelForm):
    class Meta:
        model = ConnectorAccount
        fields = ["merchant", "connector", "label", "mode", "enabled", "priority", "base_url_override"]

    def __init__(self, *args, connector_key: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        key = connector_key or self.instance.connector or self.data.get("connector", "")
        self.fields["connector"].widget = forms.Select(choices=[(c.key, c.display_name or c.key)
                                                                for c in all_connectors()])
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
                    label=spec.label, required=spec.required and not current, strip=True,
                    widget=forms.PasswordInput(render_value=False, attrs={
                        "placeholder": mask_secret_for_display(current) if current else "", "autocomplete": "off"}),
                    help_text=(spec.help_text + (" Leave empty to keep the stored value." if current else "")).strip())
            else:
                field = forms.CharField(label=spec.label, required=spec.required, initial=current,
                                        help_text=spec.help_text)
            self.fields[CREDENTIAL_PREFIX + spec.name] = field

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
        for name, message in self.connector_class.validate_credentials(credentials).items():
            self.add_error(CREDENTIAL_PREFIX + name if CREDENTIAL_PREFIX + name in self.fields else None, message)
        self.credentials = credentials
        return cleaned

    def save(self, commit=True):
        account = super().save(commit=False)
        account.set_credentials(self.credentials)
        if commit:
            account.save()
        return account


@admin.register(ConnectorAccount)
class ConnectorAccountAdmin(admin.ModelAdmin):
    form = ConnectorAccountForm
    list_display = ["label", "public_id", "merchant", "connector", "mode", "enabled", "priority"]
    list_editable = ["enabled", "priority"]
    list_filter = ["connector", "mode", "enabled"]
    search_fields = ["label", "public_id", "merchant__name"]
    readonly_fields = ["public_id", "webhook_url"]

    def get_form(self, request, obj=None, change=False, **kwargs):
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
        fieldsets = [(None, {"fields": (["public_id"] if obj else []) + main})]
        fieldsets.append(("Credentials (stored encrypted; secrets are never shown)", {"fields": credential_names}))
        if obj:
            fieldsets.append(("Webhooks", {"fields": ["webhook_url"]}))
        return fieldsets

    def add_view(self, request, form_url="", extra_context=None):
        if request.method == "GET" and "connector" not in request.GET:
            return render(request, "admin/connectors/choose_connector.html", {
                **self.admin_site.each_context(request), "connectors": all_connectors(),
                "opts": self.model._meta, "title": "Choose the connector"})
        return super().add_view(request, form_url, extra_context)

    @admin.display(description="webhook URL to give the bank")
    def webhook_url(self, obj):
        from payments.services.connector_calls import account_webhook_url

        return account_webhook_url(obj) if obj and obj.pk else ""


@admin.register(ConnectorCall)
class ConnectorCallAdmin(admin.ModelAdmin):
    list_display = ["created_at", "connector_account", "flow", "method", "status_code", "latency_ms", "error"]
    list_filter = ["flow", "status_code"]
    search_fields = ["payment__public_id", "url"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in ConnectorCall._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
