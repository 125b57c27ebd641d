"""The gateway service: REST API, inbound endpoint, dashboard, dispatcher, CLI."""
