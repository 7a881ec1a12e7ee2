"""``python -m pipeline.worker``: run one worker, settings from the environment."""

import sys

from pipeline.settings import Settings, SettingsInvalid
from pipeline.worker.run import run_worker


def main() -> None:
    try:
        settings = Settings.from_env()
    except SettingsInvalid as exc:  # named, before anything starts
        sys.exit(f"vigil worker: {exc}")
    run_worker(settings)


if __name__ == "__main__":
    main()
