"""Vigil's imperative shell: the faust worker, Kafka, Redis, HTTP, metrics and the CLI."""
