"""Back-office fixtures: staff users in the migration's roles, and payments taken through the
API against the sandbox simulator (real HTTP on loopback)."""

import json

import pytest
import requests
from django.contrib.auth.models import Group, User
from django.test import Client

from conftest import SANDBOX_API_KEY, SANDBOX_WEBHOOK_SECRET
from connectors.sandbox import signature
from payments.models import PaymentOperation
from tests.helpers import payment_body

PASSWORD = "correct-horse-battery-staple"


def make_staff(username: str, group: str | None = None, *, superuser: bool = False) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True, is_superuser=superuser)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser(db):
    return make_staff("root", superuser=True)


@pytest.fixture
def admin_client(superuser):
    return logged_in(superuser)


@pytest.fixture
def support_client(db):
    return logged_in(make_staff("sam_support", "Support"))


@pytest.fixture
def operations_client(db):
    return logged_in(make_staff("olga_ops", "Operations"))


@pytest.fixture
def take_payment(api, sandbox_account):
    """Create and confirm a payment through the API; returns the PaymentOperation."""

    def take(**body) -> PaymentOperation:
        response = api.post("/v1/payments", payment_body(**body), format="json")
        assert response.status_code in (200, 201), response.content
        return PaymentOperation.objects.get(public_id=response.json()["id"])

    return take


@pytest.fixture
def paid(take_payment):
    return take_payment(amount=2500)


def sandbox_charge(sandbox, connector_reference: str) -> dict:
    answer = requests.get(
        f"{sandbox.base_url}/v1/charges/{connector_reference}",
        headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def post_sandbox_webhook(client, account, event: dict, *, secret: str = SANDBOX_WEBHOOK_SECRET):
    """Deliver a signed sandbox event to the account's webhook URL, as the bank would."""
    body = json.dumps(event).encode()
    return client.post(
        account.webhook_path,
        data=body,
        content_type="application/json",
        headers={signature.HEADER: signature.sign(secret, body)},
    )
