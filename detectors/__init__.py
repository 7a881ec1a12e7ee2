"""Vigil's pure detection core: rules, features, models and the consent gate.

Nothing here performs I/O. Detectors take plain values (a validated event, its features, the
subject's consent record) and return findings as data; ``pipeline/`` does the reading and
writing. import-linter enforces this (see ``pyproject.toml``).
"""
