"""Create a merchant and print a new API key (shown once)."""

from django.core.management.base import BaseCommand

from payments.models import ApiKey, Merchant, Mode


class Command(BaseCommand):
    help = "Create a merchant (or reuse one by name) and print a new API key."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--mode", choices=[Mode.TEST, Mode.LIVE], default=Mode.TEST)

    def handle(self, *args, name, mode, **options):
        merchant, created = Merchant.objects.get_or_create(name=name)
        _, raw_key = ApiKey.issue(merchant, mode=mode, label="created by create_merchant")
        self.stdout.write(f"merchant {merchant.public_id} ({'created' if created else 'existing'})")
        self.stdout.write(f"api key  {raw_key}")
