"""Run the review service under uvicorn, in the foreground, until interrupted.

``python -m pipeline.review`` and ``vigil review serve`` both come here, with the settings they
resolved (the stack ``vigil up`` recorded, when the environment names none).
"""

from __future__ import annotations

import logging

import uvicorn

from pipeline.review.web.app import create_app
from pipeline.settings import ReviewSettings, Settings


def serve(settings: Settings, review: ReviewSettings) -> None:
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("vigil.review").info("review console at http://%s:%d/", review.host, review.port)
    uvicorn.run(create_app(settings, review=review), host=review.host, port=review.port,
                log_level=settings.log_level.lower(), proxy_headers=False)
