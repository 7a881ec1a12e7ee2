"""The embedded local stack: Tansu and redis-server as child processes, ``vigil up`` / ``down``."""
