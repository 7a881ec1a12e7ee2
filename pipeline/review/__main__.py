"""``python -m pipeline.review``: run the review service under uvicorn.

Settings come from the environment: ``REDIS_URL``, ``KAFKA_BOOTSTRAP_SERVERS`` (else the stack
``vigil up`` recorded), ``VIGIL_REVIEW_HOST`` (127.0.0.1), ``VIGIL_REVIEW_PORT`` (8000) and the
other ``VIGIL_REVIEW_*`` variables (see README, "Review queue and console").
"""

from __future__ import annotations


def main() -> None:
    import sys

    from pipeline.local.stack import settings_with_stack
    from pipeline.review.web.serve import serve
    from pipeline.settings import ReviewSettings, SettingsInvalid

    try:
        settings, review = settings_with_stack(), ReviewSettings.from_env()
    except SettingsInvalid as exc:  # named, before anything starts
        sys.exit(f"vigil review: {exc}")
    serve(settings, review)


if __name__ == "__main__":
    main()
