from django.urls import path

from webhooks.api import views

urlpatterns = [
    path("webhook_endpoints", views.EndpointListCreateView.as_view(), name="webhook-endpoints"),
    path("webhook_endpoints/<str:endpoint_id>", views.EndpointDetailView.as_view(), name="webhook-endpoint-detail"),
    path("events", views.EventListView.as_view(), name="events"),
    path("events/<str:event_id>", views.EventDetailView.as_view(), name="event-detail"),
    path("events/<str:event_id>/resend", views.EventResendView.as_view(), name="event-resend"),
]
