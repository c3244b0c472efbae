"""How the outbox reaches an address: e-mail and webhooks, each within one total deadline."""
