"""The merchant-facing API of outbound webhooks: endpoints, events, resend."""
