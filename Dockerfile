# syntax=docker/dockerfile:1
# Vigil: one image for both processes.
#   worker (default):  vigil worker                 metrics on :9400/metrics (VIGIL_METRICS_PORT)
#   review service:    python -m pipeline.review    HTTP + /metrics on :8000
# Build from the repository root:  docker build -t vigil:dev .

# ---- build: a virtualenv with Vigil and its dependencies ------------------------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Compilers only for dependencies without a wheel for the build platform (e.g. arm64);
# they stay in this stage and never reach the runtime image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/vigil
WORKDIR /src
# Dependencies change less often than code: resolve them in their own layer.
COPY pyproject.toml README.md ./
RUN /opt/vigil/bin/pip install --upgrade pip setuptools wheel \
 && /opt/vigil/bin/python -c "import tomllib; d = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(d))" \
 && /opt/vigil/bin/pip install -r /tmp/requirements.txt
COPY schemas ./schemas
COPY detectors ./detectors
COPY pipeline ./pipeline
# A regular (non-editable) install: the runtime image holds no source tree.
# Then check the installed package has its data files (rules, JSON Schemas, the review
# console's static files and templates, the review queue's Lua scripts): a file missing from
# package-data would otherwise only show up as a crash when the container starts.
RUN /opt/vigil/bin/pip install --no-deps . \
 && cd / && /opt/vigil/bin/python -c "import pipeline.worker.run, pipeline.cli.main, pipeline.review.web.app, pipeline.review.web.deps as r, pipeline.review.queue as q, detectors, schemas; \
from pathlib import Path; \
need = [Path(detectors.__file__).parent / 'rules', Path(schemas.__file__).parent / 'json', r.STATIC, r.TEMPLATES, Path(q.__file__).parent / 'lua']; \
missing = [str(p) for p in need if not p.is_dir() or not any(p.iterdir())]; \
assert not missing, f'not installed (add to [tool.setuptools.package-data] in pyproject.toml): {missing}'"

# ---- runtime ----------------------------------------------------------------------------------
FROM python:3.11-slim
LABEL org.opencontainers.image.title="vigil" \
      org.opencontainers.image.description="Vigil trust-and-safety workers and review service"
RUN groupadd --system --gid 10001 vigil \
 && useradd --system --uid 10001 --gid vigil --home-dir /var/lib/vigil --shell /usr/sbin/nologin vigil \
 && install -d -o vigil -g vigil -m 0750 /var/lib/vigil
COPY --from=build /opt/vigil /opt/vigil
ENV PATH=/opt/vigil/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIGIL_STATE_DIR=/var/lib/vigil \
    VIGIL_METRICS_PORT=9400 \
    VIGIL_CREATE_TOPICS=0
WORKDIR /var/lib/vigil
USER 10001:10001
EXPOSE 9400 8000
# faust and uvicorn both handle SIGTERM (offsets are committed on the way out); run with
# `--init` / compose `init: true` so a PID-1 Python still reaps children.
CMD ["vigil", "worker"]
