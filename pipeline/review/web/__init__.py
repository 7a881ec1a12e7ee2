"""The review service: REST API and web console over the review queue (:mod:`pipeline.review.queue`).

``python -m pipeline.review`` runs it (settings from the environment); ``create_app`` builds the
FastAPI app for tests and other launchers. Importing this package stays cheap: the web stack is
imported by :mod:`pipeline.review.web.app` only.
"""
