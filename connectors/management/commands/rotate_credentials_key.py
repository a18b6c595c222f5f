"""Re-encrypt every connector account's credentials under the keyring's current (first) key.

Rotation: put the new key first in PAGOFLEX_KEYRING, keep the old one after it, run this,
then remove the old key.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from connectors.crypto import get_keyring
from connectors.models import ConnectorAccount


class Command(BaseCommand):
    help = "Re-encrypt all connector credentials under the current key of PAGOFLEX_KEYRING."

    def handle(self, *args, **options):
        changed = 0
        with transaction.atomic():
            for account in ConnectorAccount.objects.select_for_update().order_by("pk"):
                if account.reencrypt():
                    account.save(update_fields=["credentials_encrypted", "updated_at"])
                    changed += 1
        self.stdout.write(f"re-encrypted {changed} account(s) under key {get_keyring().current_key_id}")
