"""The worker: every input topic in; cases, flags and dead letters out (``python -m pipeline.worker``).

:mod:`pipeline.worker.app` builds the faust app; importing this package stays cheap.
"""
