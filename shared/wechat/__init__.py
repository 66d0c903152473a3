"""Clients for WeChat's server APIs, and the loopback sandboxes used in dev and tests."""
