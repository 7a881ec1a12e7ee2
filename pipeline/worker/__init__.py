"""The worker: every input topic in; cases, flags and dead letters out (``python -m pipeline.worker``).

:mod:`pipeline.worker.app` builds the faust app (:func:`~pipeline.worker.app.build_app`, the one
place its parts are put together), :mod:`pipeline.worker.run` runs it; importing this package
stays cheap.
"""
