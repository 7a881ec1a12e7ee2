"""The online models in the worker: snapshots in Redis, one learner, many scorers."""
