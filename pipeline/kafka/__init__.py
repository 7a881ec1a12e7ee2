"""Kafka adapters: the worker's faust transport, the publisher platform services use, topic
administration and a plain topic reader."""
