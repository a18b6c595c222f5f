"""What ``make run`` needs: an admin user, a demo merchant with one connector account per bundled
simulator, a routing configuration that sends each demo payment to its connector, and a new key.

    python manage.py setup_demo [--migrate] [--sandbox-url URL] [--paytm-url URL] [--authipay-url URL]
        [--bancox-url URL]

``--migrate`` applies migrations first, in the same process (one Django start-up fewer for ``make run``).

Each account's base URL is the simulator's URL given here (``scripts/run-dev.sh`` passes the ports
it starts them on), and its credentials are the ones the simulators are started with: the
environment variables in ``DEMO_ACCOUNTS`` (the simulators read the same ones), else the defaults
below. The simulators call back on each account's own webhook URL
(``PAGOFLEX_PUBLIC_URL`` + ``/webhooks/<connector>/<account id>/``), printed here so the script can
hand it to the Paytm simulator, whose notification URL is fixed at start as Paytm's dashboard
fixes it.

The routing configuration (test mode) is: UPI payments to Paytm, GBP cards to Authipay, MXN cards
to Banco X, everything else to the sandbox bank. It is written when the merchant has none, or
when the one it has was written by this command; one a person changed (API or admin) is kept.

Idempotent: run it again and it reuses the admin, the merchant and its accounts, updating their
base URLs and credentials to the ones given (so moved ports follow). Each run prints a new API
key, since keys are only ever shown once.
"""

import os
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from connectors.models import ConnectorAccount
from payments.models import ApiKey, Merchant, Mode, RoutingConfiguration
from payments.services.connector_calls import account_webhook_url
from payments.services.routing import set_routing_configuration

DEMO_MERCHANT = "Demo merchant"
ROUTING_ACTOR = "setup_demo"


@dataclass(frozen=True)
class DemoAccount:
    """One bundled simulator and the demo account that talks to it."""

    connector: str
    label: str
    url_option: str  # "sandbox_url": the option --sandbox-url, defaulting to $SANDBOX_URL
    default_port: int
    # credential field -> (environment variable, default); the simulator reads the same variable.
    credentials: dict[str, tuple[str, str]]
    # credential fields the simulator does not check (constant for the demo).
    fixed: tuple[tuple[str, str], ...] = ()

    def credentials_from(self, environ) -> dict[str, str]:
        values = {field: environ.get(variable) or default for field, (variable, default) in self.credentials.items()}
        return {**values, **dict(self.fixed)}


DEMO_ACCOUNTS = (
    DemoAccount("sandbox", "Sandbox bank", "sandbox_url", 8001, {
        "api_key": ("SANDBOX_API_KEY", "sbx_demo_api_key"),
        "webhook_secret": ("SANDBOX_WEBHOOK_SECRET", "sbx_demo_webhook_secret"),
    }),
    DemoAccount("paytm", "Paytm UPI (simulator)", "paytm_url", 8002, {
        "merchant_id": ("PAYTM_SIM_MID", "PAGOFXDEMO0000000001"),
        "merchant_key": ("PAYTM_SIM_MERCHANT_KEY", "demoPaytmKey0001"),  # 16 characters, as Paytm's are
    }, fixed=(("website", "WEBSTAGING"),)),
    DemoAccount("authipay", "Authipay (simulator)", "authipay_url", 8003, {
        "api_key": ("AUTHIPAY_API_KEY", "sim_authipay_key"),
        "api_secret": ("AUTHIPAY_API_SECRET", "sim_authipay_secret"),
        "store_id": ("AUTHIPAY_STORE_ID", "12345500000"),
    }),
    DemoAccount("banco_x", "Banco X (simulator)", "bancox_url", 8004, {
        "api_key": ("BANCOX_API_KEY", "bx_test_api_key"),
        "secret": ("BANCOX_SECRET", "bx_test_secret"),
        "webhook_secret": ("BANCOX_WEBHOOK_SECRET", "bx_test_webhook_secret"),
    }),
)


def demo_routing(accounts: dict[str, ConnectorAccount]) -> dict:
    """The demo's routing document (``PUT /v1/routing`` shape, docs/routing.md)."""
    return {
        "strategy": "priority",
        "rules": [
            {"name": "UPI to Paytm", "conditions": {"payment_method_type": ["upi"]},
             "outcome": {"type": "priority", "connectors": [accounts["paytm"].public_id]}},
            {"name": "GBP cards to Authipay", "conditions": {"payment_method_type": ["card"], "currency": ["GBP"]},
             "outcome": {"type": "priority", "connectors": [accounts["authipay"].public_id]}},
            {"name": "MXN cards to Banco X", "conditions": {"payment_method_type": ["card"], "currency": ["MXN"]},
             "outcome": {"type": "priority", "connectors": [accounts["banco_x"].public_id]}},
        ],
        "default": {"type": "priority", "connectors": [accounts["sandbox"].public_id]},
    }


class Command(BaseCommand):
    # No system checks here: they load every URL and view, which this command never uses, and
    # make run's runserver (started after it) runs them anyway.
    requires_system_checks = []
    help = ("Create the demo admin, merchant, one connector account per bundled simulator and a routing "
            "configuration; print the accounts' webhook URLs and a new API key.")

    def add_arguments(self, parser):
        for demo in DEMO_ACCOUNTS:
            variable = demo.url_option.upper()
            parser.add_argument(f"--{demo.url_option.replace('_', '-')}", dest=demo.url_option,
                                default=os.environ.get(variable, f"http://127.0.0.1:{demo.default_port}"),
                                help=f"the {demo.label} base URL (default ${variable} or port {demo.default_port})")
        parser.add_argument("--admin-password", default=os.environ.get("ADMIN_PASSWORD", "admin"))
        parser.add_argument("--migrate", action="store_true", help="apply migrations first")

    def handle(self, *args, admin_password, migrate, **options):
        if migrate:
            call_command("migrate", interactive=False, verbosity=0)
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", admin_password)
        with transaction.atomic():
            merchant, _ = Merchant.objects.get_or_create(name=DEMO_MERCHANT)
            accounts = {demo.connector: self._account(merchant, demo, options[demo.url_option])
                        for demo in DEMO_ACCOUNTS}
            routing = self._routing(merchant, accounts)
        _, raw_key = ApiKey.issue(merchant, label="make run")
        self.stdout.write(f"merchant         {merchant.public_id}")
        for demo in DEMO_ACCOUNTS:
            account = accounts[demo.connector]
            # One line per account, "<connector> <account id> <base url> webhooks <webhook url>":
            # scripts/run-dev.sh reads the Paytm and Banco X lines.
            self.stdout.write(f"{demo.connector:<16} {account.public_id} {account.base_url} "
                              f"webhooks {account_webhook_url(account)}")
        self.stdout.write(f"routing          {routing}")
        self.stdout.write(f"api key          {raw_key}")

    @staticmethod
    def _account(merchant, demo: DemoAccount, base_url: str) -> ConnectorAccount:
        account = (ConnectorAccount.objects.filter(merchant=merchant, connector=demo.connector, mode=Mode.TEST)
                   .order_by("id").first())
        if account is None:
            account = ConnectorAccount(merchant=merchant, connector=demo.connector, label=demo.label, mode=Mode.TEST,
                                       priority=10 if demo.connector == "sandbox" else 0)
        credentials = demo.credentials_from(os.environ)
        errors = account.connector_class.validate_credentials(credentials)
        if errors:
            raise CommandError(f"{demo.connector} credentials from the environment: {errors}")
        account.base_url_override = base_url.rstrip("/")
        account.set_credentials(credentials)
        account.save()
        return account

    @staticmethod
    def _routing(merchant, accounts: dict[str, ConnectorAccount]) -> str:
        current = RoutingConfiguration.objects.filter(merchant=merchant, mode=Mode.TEST).first()
        if current is not None and current.updated_by != ROUTING_ACTOR:
            return f"kept (last changed by {current.updated_by or 'someone'})"
        set_routing_configuration(merchant=merchant, mode=Mode.TEST, document=demo_routing(accounts),
                                  actor=ROUTING_ACTOR)
        return "UPI -> paytm, GBP cards -> authipay, MXN cards -> banco_x, the rest -> sandbox"
