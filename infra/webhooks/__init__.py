"""Verdict webhooks: typed events, the outbox they are written to, delivery workers, routes."""
