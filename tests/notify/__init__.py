"""Tests of the notifier (monitor/notify)."""
