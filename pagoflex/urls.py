from django.contrib import admin
from django.urls import include, path

from pagoflex.metrics import metrics_view
from payments import views as customer_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path("v1/", include("payments.api.urls")),
    path("v1/", include("webhooks.api.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("payments/<str:payment_id>/return/", customer_views.payment_return, name="payment-return"),
    path("payments/<str:payment_id>/authenticate/", customer_views.payment_authenticate,
         name="payment-authenticate"),
]

handler404 = "payments.api.errors.json_not_found"
handler500 = "payments.api.errors.json_server_error"
