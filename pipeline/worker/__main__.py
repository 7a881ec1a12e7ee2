"""``python -m pipeline.worker``: run one worker, settings from the environment."""

from pipeline.worker.run import run_worker

if __name__ == "__main__":
    run_worker()
