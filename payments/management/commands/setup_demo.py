"""What ``make run`` needs: an admin user, a demo merchant with a sandbox account, a new key.

Idempotent: run it again and it reuses what exists (each run prints a new API key, since
keys are only ever shown once).
"""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from connectors.models import ConnectorAccount
from payments.models import ApiKey, Merchant


class Command(BaseCommand):
    help = "Create the demo admin, merchant and sandbox connector account; print a new API key."

    def add_arguments(self, parser):
        parser.add_argument("--sandbox-url", default=os.environ.get("SANDBOX_URL", "http://127.0.0.1:8001"))
        parser.add_argument("--sandbox-api-key", default=os.environ.get("SANDBOX_API_KEY", "sbx_demo_api_key"))
        parser.add_argument("--sandbox-webhook-secret",
                            default=os.environ.get("SANDBOX_WEBHOOK_SECRET", "sbx_demo_webhook_secret"))
        parser.add_argument("--admin-password", default=os.environ.get("ADMIN_PASSWORD", "admin"))

    def handle(self, *args, sandbox_url, sandbox_api_key, sandbox_webhook_secret, admin_password, **options):
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", admin_password)
        merchant, _ = Merchant.objects.get_or_create(name="Demo merchant")
        account = ConnectorAccount.objects.filter(merchant=merchant, connector="sandbox").first()
        if account is None:
            account = ConnectorAccount(merchant=merchant, connector="sandbox", label="Sandbox bank", priority=10)
        account.base_url_override = sandbox_url
        account.set_credentials({"api_key": sandbox_api_key, "webhook_secret": sandbox_webhook_secret})
        account.save()
        _, raw_key = ApiKey.issue(merchant, label="make run")
        self.stdout.write(f"merchant        {merchant.public_id}")
        self.stdout.write(f"sandbox account {account.public_id} -> {sandbox_url}")
        self.stdout.write(f"api key         {raw_key}")
