"""Redis-backed stores behind small ports, each with an in-memory twin where replay needs one:
feature windows, consent, the state a batch loads, the processing ledger, worker heartbeats."""
