"""Offline tools on the worker's detection path: replay, rule backtests, dead-letter replay."""
