"""What Django's error reports may show: no credential, secret or card number, DEBUG or not.

Django's ``SafeExceptionReporterFilter`` honours ``sensitive_variables`` and
``sensitive_post_parameters`` only when ``DEBUG=False`` ("if DEBUG is True your site is not safe
anyway"); but the development debug page is seen by staff and whoever looks over a shoulder,
and it showed decrypted connector credentials (issue 16). This filter is always active and adds
three rules of its own, for the frames nobody decorated:

- a local, POST parameter or setting whose name looks like a secret (credential, secret,
  password, token, api key, keyring, signature, cvc, card number, plaintext...) is hidden;
- dicts are cleansed key by key (``{"api_key": ...}`` under any name);
- any other value whose text holds a secret found in the same stack (a decrypted credential
  copied into an innocent name), a connector's credentials, a card number (Luhn) or a URL's
  password is shown masked.

Configured by ``DEFAULT_EXCEPTION_REPORTER_FILTER`` in ``pagoflex/settings.py``.
"""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter

from connectors.masking import mask_text

SENSITIVE_NAME = re.compile(
    r"credential|secret|passw|token|api_?key|private|keyring|signature|cvc|cvv|plaintext|decrypted|"
    r"^card$|^number$|^pan$|^key$|^stored$|HTTP_COOKIE|HTTP_AUTHORIZATION", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]+@", re.IGNORECASE)
_MAX_HARVEST_DEPTH = 4


class CredentialsExceptionReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CREDENTIAL|KEYRING|DSN", flags=re.IGNORECASE)

    def is_active(self, request):
        return True  # DEBUG or not: the development page is read by people too

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):
            cleansed = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{self.cleansed_substitute}@", cleansed)
        return cleansed

    def get_post_parameters(self, request):
        parameters = super().get_post_parameters(request)
        return self._cleanse_sensitive_keys(parameters)

    def get_cleansed_multivaluedict(self, request, multivaluedict):
        return self._cleanse_sensitive_keys(super().get_cleansed_multivaluedict(request, multivaluedict))

    def _cleanse_sensitive_keys(self, parameters):
        if not parameters or not any(SENSITIVE_NAME.search(str(key)) for key in parameters):
            return parameters
        parameters = parameters.copy()
        for key in list(parameters):
            if SENSITIVE_NAME.search(str(key)):
                parameters[key] = self.cleansed_substitute
        return parameters

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        secrets = _secrets_in_stack(tb_frame)
        cleansed = []
        for name, value in variables:
            if value == self.cleansed_substitute or SENSITIVE_NAME.search(name):
                cleansed.append((name, self.cleansed_substitute))
                continue
            value = self.cleanse_setting(name, value) if isinstance(value, (dict, list, tuple)) else value
            cleansed.append((name, self._masked_if_it_shows_a_secret(value, secrets)))
        return cleansed

    def _masked_if_it_shows_a_secret(self, value, secrets: set[str]):
        try:
            text = value if isinstance(value, str) else repr(value)
        except Exception:  # noqa: BLE001 - a broken repr shows nothing, which is safe
            return value
        masked = mask_text(_URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{self.cleansed_substitute}@", text),
                           sorted(secrets))
        return value if masked == text else masked


def _secrets_in_stack(frame) -> set[str]:
    """The values held under secret-looking names, and connectors' credentials, in this frame and
    every frame that called it: the secrets a report of this stack must not show anywhere."""
    found: set[str] = set()
    while frame is not None:
        try:
            local_items = list(frame.f_locals.items())
        except Exception:  # noqa: BLE001 - a frame that cannot be read has nothing to harvest
            local_items = []
        for name, value in local_items:
            if SENSITIVE_NAME.search(name):
                _harvest(value, found, 0)
            else:
                credentials = getattr(value, "credentials", None) if not isinstance(value, type) else None
                if isinstance(credentials, dict):
                    _harvest(credentials, found, 0)
                if isinstance(value, dict):
                    for key, item in value.items():
                        if SENSITIVE_NAME.search(str(key)):
                            _harvest(item, found, 0)
        frame = frame.f_back
    return {secret for secret in found if len(secret) >= 4}


def _harvest(value, found: set[str], depth: int) -> None:
    if depth > _MAX_HARVEST_DEPTH:
        return
    if isinstance(value, str):
        found.add(value)
    elif isinstance(value, bytes):
        found.add(value.decode("utf-8", "replace"))
    elif isinstance(value, dict):
        for item in value.values():
            _harvest(item, found, depth + 1)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            _harvest(item, found, depth + 1)
