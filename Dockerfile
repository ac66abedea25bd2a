# gradient-service production image: CPU-only torch, non-root, no build tools.
#
#   docker build -t gradient-service:0.1.0 .
#   docker run --rm -p 8000:8000 -e WORKERS=2 gradient-service:0.1.0
#
# The pip settings below are build args that pip reads from the environment; they are
# never set with ENV nor passed as pip options, so a build can override them
# (`--build-arg PIP_EXTRA_INDEX_URL=` means "no extra index"; PIP_FIND_LINKS and
# PIP_CERT point pip at local wheels and a CA bundle).

# ---------------------------------------------------------------- builder --
FROM python:3.11-slim AS builder

ARG PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG PIP_FIND_LINKS=
ARG PIP_CERT=
ARG PIP_DISABLE_PIP_VERSION_CHECK=1
ARG PIP_DEFAULT_TIMEOUT=180

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv

WORKDIR /src

# Dependencies first, in their own layer: a code change does not reinstall torch.
# The stub package lets pip resolve the project's dependencies from pyproject.toml alone.
COPY pyproject.toml constraints.txt ./
RUN mkdir service && touch service/__init__.py \
    && pip install --no-cache-dir -c constraints.txt '.[server]' \
    && pip uninstall --yes gradient-service \
    && rm -rf service build ./*.egg-info

# Then the service itself (its dependencies are already in place). Dropped from torch:
# C++ headers and CMake files (for building extensions) and its C++ test binaries.
COPY service ./service
RUN pip install --no-cache-dir --no-deps -c constraints.txt . \
    && t=/opt/venv/lib/python3.11/site-packages/torch \
    && rm -rf "$t/include" "$t/share/cmake" "$t/test" "$t"/bin/*Test "$t"/bin/test_* \
              "$t"/bin/protoc* "$t"/bin/*.ptl "$t/bin/upgrader_models" \
    && gradient-service --help >/dev/null \
    && python -I -c "import service.api.app, torch; print('torch', torch.__version__)"

# ---------------------------------------------------------------- runtime --
FROM python:3.11-slim

LABEL org.opencontainers.image.title="gradient-service" \
      org.opencontainers.image.description="Loss, prediction and gradients of a small network from PyTorch autograd and a NumPy backprop, compared" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="MIT"

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify it.
RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid app --no-create-home \
               --home-dir /nonexistent --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    HOST=0.0.0.0 \
    PORT=8000 \
    WORKERS=2 \
    LOG_LEVEL=info

USER 10001:10001
EXPOSE 8000

# The slim image has no curl: probe with the standard library (no proxy for loopback).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]

# `serve` reads HOST, PORT, WORKERS and LOG_LEVEL from the environment.
CMD ["gradient-service", "serve"]
