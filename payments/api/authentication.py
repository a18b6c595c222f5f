"""``Authorization: Bearer sk_test_...``: the merchant is the principal, the key says the mode."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from payments.models import ApiKey, hash_api_key

# last_used_at is written at most this often per key, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


# Where a request's authentication is kept once done, for the view's own authentication to reuse
# (the body of an API request is read only after its key is known good: pagoflex.middleware).
AUTHENTICATED_AS = "pagoflex_api_key_authentication"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        """``(merchant, api_key)``, ``None`` without an Authorization header, or raises
        ``AuthenticationFailed`` (``api_key_invalid``, ``api_key_revoked``). ``request`` is a DRF
        or a Django request."""
        django_request = getattr(request, "_request", request)
        done = getattr(django_request, AUTHENTICATED_AS, None)
        if done is not None:
            return done
        done = self._authenticate(request)
        if done is not None:
            setattr(django_request, AUTHENTICATED_AS, done)
        return done

    def _authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, raw_key = header.partition(" ")
        raw_key = raw_key.strip()
        if scheme != self.keyword or not raw_key:
            raise exceptions.AuthenticationFailed("use the header Authorization: Bearer <API key>",
                                                  code="api_key_invalid")
        api_key = ApiKey.objects.select_related("merchant").filter(key_hash=hash_api_key(raw_key)).first()
        if api_key is None:
            raise exceptions.AuthenticationFailed("invalid API key", code="api_key_invalid")
        if api_key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("this API key has been revoked", code="api_key_revoked")
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return api_key.merchant, api_key

    def authenticate_header(self, request):
        return self.keyword


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "payments.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A secret API key: sk_test_... or sk_live_..."}
