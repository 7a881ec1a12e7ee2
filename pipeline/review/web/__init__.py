"""The review service: REST API and web console over the review queue (:mod:`pipeline.review.queue`).

``python -m pipeline.review`` runs it (settings from the environment, :mod:`.serve`);
:func:`.app.create_app` builds the FastAPI app for tests and other launchers. The routers
(:mod:`.api`, :mod:`.console`) share what :mod:`.deps` holds. Importing this package stays cheap:
it imports none of them.
"""
