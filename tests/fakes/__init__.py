"""Test doubles that run for real (servers on loopback ports), not mocks of our code."""
