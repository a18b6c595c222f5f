import requests

from connectors.base import Flow
from connectors.sandbox.tests.factories import follow_up, payment
from payments.statuses import AttemptStatus


def test_psync_reports_an_authorized_charge_with_its_amount(connector):
    data = payment(amount=777, manual=True)
    result = connector.call(Flow.PSYNC, follow_up(data, connector.call(Flow.AUTHORIZE, data)))

    assert (result.status, result.amount, result.currency) == (AttemptStatus.AUTHORIZED, 777, "EUR")


def test_psync_reports_a_charged_charge(connector):
    data = payment()
    result = connector.call(Flow.PSYNC, follow_up(data, connector.call(Flow.AUTHORIZE, data)))

    assert (result.status, result.amount_captured) == (AttemptStatus.CHARGED, 1050)


def test_psync_settles_a_pending_charge_to_charged_with_automatic_capture(connector):
    data = payment("4000000000000259")
    follow_up(data, connector.call(Flow.AUTHORIZE, data))

    assert connector.call(Flow.PSYNC, data).status == AttemptStatus.CHARGED


def test_psync_settles_a_pending_charge_to_authorized_with_manual_capture(connector):
    data = payment("4000000000000259", manual=True)
    follow_up(data, connector.call(Flow.AUTHORIZE, data))

    assert connector.call(Flow.PSYNC, data).status == AttemptStatus.AUTHORIZED


def test_psync_without_a_bank_id_finds_the_charge_by_attempt_reference(connector):
    data = payment()
    made = connector.call(Flow.AUTHORIZE, data)

    found = connector.call(Flow.PSYNC, data)  # data.connector_reference is still empty

    assert "reference=" in connector.calls[-1].url
    assert (found.connector_reference, found.status) == (made.connector_reference, AttemptStatus.CHARGED)


def test_three_ds_page_round_trip_completes_and_returns_the_customer(connector, merchant):
    data = payment("4000000000003220", return_url=f"{merchant.base_url}/return?payment=pay_1")
    started = connector.call(Flow.AUTHORIZE, data)
    follow_up(data, started)
    assert connector.call(Flow.PSYNC, data).status == AttemptStatus.AUTHENTICATION_PENDING

    browser = requests.Session()
    page = browser.get(started.next_action.url, timeout=5)
    assert page.status_code == 200 and "Complete" in page.text and "Fail" in page.text
    submitted = browser.post(started.next_action.url, data={"outcome": "complete"}, allow_redirects=False, timeout=5)
    assert submitted.status_code == 302
    assert submitted.headers["Location"] == (
        f"{merchant.base_url}/return?payment=pay_1&charge={started.connector_reference}"
    )
    landed = browser.get(submitted.headers["Location"], timeout=5)

    assert landed.status_code == 200
    assert merchant.returns == [{"payment": "pay_1", "charge": started.connector_reference}]
    assert connector.call(Flow.PSYNC, data).status == AttemptStatus.CHARGED


def test_three_ds_failure_declines_the_charge_as_authentication_failed(connector, merchant):
    data = payment("4000000000003220", manual=True, return_url=f"{merchant.base_url}/return")
    started = connector.call(Flow.AUTHORIZE, data)

    answer = requests.post(started.next_action.url, data={"outcome": "fail"}, allow_redirects=False, timeout=5)
    result = connector.call(Flow.PSYNC, follow_up(data, started))

    assert answer.status_code == 302
    assert (result.status, result.code) == (AttemptStatus.FAILURE, "authentication_failed")
    assert result.retryable_elsewhere is False


def test_three_ds_with_manual_capture_completes_to_authorized(connector, merchant):
    data = payment("4000000000003220", manual=True, return_url=f"{merchant.base_url}/return")
    started = connector.call(Flow.AUTHORIZE, data)

    requests.post(started.next_action.url, data={"outcome": "complete"}, allow_redirects=False, timeout=5)

    assert connector.call(Flow.PSYNC, follow_up(data, started)).status == AttemptStatus.AUTHORIZED


def test_an_abandoned_three_ds_charge_can_be_voided(connector):
    data = payment("4000000000003220", manual=True)
    follow_up(data, connector.call(Flow.AUTHORIZE, data))

    assert connector.call(Flow.VOID, data).status == AttemptStatus.VOIDED
