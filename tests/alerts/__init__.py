"""Tests of the committed Prometheus rules."""
