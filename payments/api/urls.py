from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from payments.api import routing_views, views

urlpatterns = [
    path("payments", views.PaymentListCreateView.as_view(), name="payments"),
    path("payments/<str:payment_id>", views.PaymentDetailView.as_view(), name="payment-detail"),
    path("payments/<str:payment_id>/confirm", views.PaymentConfirmView.as_view(), name="payment-confirm"),
    path("payments/<str:payment_id>/capture", views.PaymentCaptureView.as_view(), name="payment-capture"),
    path("payments/<str:payment_id>/cancel", views.PaymentCancelView.as_view(), name="payment-cancel"),
    path("refunds", views.RefundListCreateView.as_view(), name="refunds"),
    path("refunds/<str:refund_id>", views.RefundDetailView.as_view(), name="refund-detail"),
    path("payment_methods", views.PaymentMethodListCreateView.as_view(), name="payment-methods"),
    path("payment_methods/<str:payment_method_id>", views.PaymentMethodDetailView.as_view(),
         name="payment-method-detail"),
    path("payment_methods/<str:payment_method_id>/detach", views.PaymentMethodDetachView.as_view(),
         name="payment-method-detach"),
    path("routing", routing_views.RoutingView.as_view(), name="routing"),
    path("schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[], permission_classes=[]),
         name="docs"),
]
