"""Review: the queue analysts work in (:mod:`.queue`, Redis) and the service that serves it
(:mod:`.web`, FastAPI). ``python -m pipeline.review`` runs the service."""
