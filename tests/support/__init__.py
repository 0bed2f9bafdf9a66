"""Helpers shared by the service and end-to-end tests."""
