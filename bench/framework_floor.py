"""The framework floor: what one API request costs before Pagoflex does anything of its own.

``POST /bench/floor`` runs what every Pagoflex API request runs (Django's middleware, DRF's
dispatch, the API key's authentication with its one query, the per-key rate limit in the shared
cache, JSON parsing and rendering) and then nothing else. Its requests/s and CPU per request under
the same gunicorn and load generator are the ceiling no payment operation can pass on this
machine. Served only by the benchmark's gunicorn (``bench/settings.py``), never by the product.
"""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from pagoflex.urls import handler404, handler500  # noqa: F401
from pagoflex.urls import urlpatterns as product_urlpatterns


class FrameworkFloorView(APIView):
    def post(self, request):
        return Response({"object": "floor", "merchant": request.user.public_id, "echo": request.data})


urlpatterns = [path("bench/floor", FrameworkFloorView.as_view()), *product_urlpatterns]
