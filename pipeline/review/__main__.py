"""``python -m pipeline.review``: run the review service under uvicorn.

Settings come from the environment: ``REDIS_URL``, ``KAFKA_BOOTSTRAP_SERVERS`` (else the stack
``vigil up`` recorded), ``VIGIL_REVIEW_HOST`` (127.0.0.1), ``VIGIL_REVIEW_PORT`` (8000) and the
other ``VIGIL_REVIEW_*`` variables (see README, "Review queue and console").
"""

from __future__ import annotations


def main() -> None:
    import logging

    import uvicorn

    from pipeline.local.stack import settings_with_stack
    from pipeline.review.web.app import create_app
    from pipeline.settings import ReviewSettings

    settings = settings_with_stack()
    review = ReviewSettings.from_env()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("vigil.review").info("review console at http://%s:%d/", review.host, review.port)
    uvicorn.run(create_app(settings, review=review), host=review.host, port=review.port,
                log_level=settings.log_level.lower(), proxy_headers=False)


if __name__ == "__main__":
    main()
