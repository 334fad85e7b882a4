"""Quotas shared by every process: how many times a key may act in a sliding window."""
