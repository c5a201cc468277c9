"""Helpers shared by every test folder (one copy each)."""
