"""Delivery of assignments: what each message says (providers, rendering, guardrails) and signed webhooks."""
