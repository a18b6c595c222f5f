from connectors.masking import luhn_valid, mask_headers, mask_secret_for_display, mask_text


def test_card_numbers_keep_only_their_last_four_digits():
    text = mask_text('{"number":"4242424242424242","note":"card 4000 0000 0000 0002 used"}')
    assert "4242424242424242" not in text and "4000 0000 0000 0002" not in text
    assert "4242" in text and "0002" in text


def test_cvc_and_secret_fields_are_masked_in_json_and_forms():
    text = mask_text('{"cvc":"123","securityCode":"9876","merchant_key":"abcd"} &cvv=456&CHECKSUMHASH=zzz')
    for secret in ('"123"', '"9876"', '"abcd"', "cvv=456", "CHECKSUMHASH=zzz"):
        assert secret not in text


def test_listed_secret_values_are_masked_wherever_they_appear():
    assert "sk_live_topsecret" not in mask_text("url?key=sk_live_topsecret", secrets=["sk_live_topsecret"])


def test_numbers_that_are_not_card_numbers_are_kept():
    assert mask_text('{"amount":123456789012}') == '{"amount":123456789012}'  # fails Luhn
    assert not luhn_valid("4242424242424241")


def test_authorization_like_headers_are_masked():
    headers = mask_headers({"Authorization": "Bearer x", "Api-Key": "y", "Content-Type": "application/json"})
    assert headers["Authorization"] != "Bearer x" and headers["Api-Key"] != "y"
    assert headers["Content-Type"] == "application/json"


def test_secrets_are_displayed_as_bullets_and_at_most_four_characters():
    assert mask_secret_for_display("whsec_0123456789abcd") == "••••••••abcd"
    assert mask_secret_for_display("short") == "••••••••"
