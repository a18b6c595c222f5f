from django.urls import path

from webhooks import views

urlpatterns = [
    path("bancox", views.legacy_webhook, {"connector": "banco_x"}, name="webhook-bancox"),
    path("<str:connector>/<str:account_id>/", views.connector_webhook, name="webhook"),
]
