# syntax=docker/dockerfile:1
# The llmspell daemon: docker build -t llmspell:0.1.0 . && docker run -p 8080:8080 llmspell:0.1.0
# A non-loopback bind needs API keys (llmspell keys create NAME) or
# LLMSPELL_SERVER__ALLOW_INSECURE_BIND=true (development only). See docs/operations.md.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/llmspell/.venv
COPY pyproject.toml README.md ./
COPY service ./service
# The llm extra brings litellm for providers that do not speak the OpenAI protocol;
# --build-arg LLMSPELL_EXTRAS= builds without it.
ARG LLMSPELL_EXTRAS=llm
RUN /opt/llmspell/.venv/bin/pip install ".${LLMSPELL_EXTRAS:+[$LLMSPELL_EXTRAS]}"

FROM python:3.11-slim AS runtime
RUN groupadd --system --gid 10001 llmspell \
    && useradd --system --uid 10001 --gid llmspell --home-dir /var/lib/llmspell --shell /usr/sbin/nologin llmspell \
    && install -d -o llmspell -g llmspell -m 0750 /var/lib/llmspell
COPY --from=build /opt/llmspell/.venv /opt/llmspell/.venv
ENV PATH=/opt/llmspell/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    LLMSPELL_DATA_DIR=/var/lib/llmspell \
    LLMSPELL_LOG_FORMAT=json
WORKDIR /var/lib/llmspell
VOLUME ["/var/lib/llmspell"]
USER 10001:10001
EXPOSE 8080 50051
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2).status != 200)"]
# SIGTERM starts the graceful shutdown (server.shutdown_grace_s, 20 s by default):
# give `docker stop` more than that, e.g. docker stop -t 30.
STOPSIGNAL SIGTERM
ENTRYPOINT ["llmspell"]
CMD ["serve", "--host", "0.0.0.0"]
