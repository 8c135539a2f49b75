# The gitbeat image: the package, the example config and its handlers.
#   docker build --build-arg GIT_COMMIT=$(git rev-parse HEAD) -t gitbeat:local .
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY engine ./engine
RUN pip install --no-cache-dir . && useradd --create-home --uid 1000 gitbeat
COPY gitbeat.yaml ./
COPY tasks ./tasks
COPY schedules ./schedules
COPY schema ./schema
# The handlers write under .gitbeat/ and /data (the example's app database, shared by the services).
RUN mkdir -p /app/.gitbeat /data && chown gitbeat:gitbeat /app/.gitbeat /data
ARG GIT_COMMIT=""
# The image has no git: revisions record the commit the config was built from.
ENV GITBEAT_CONFIG=/app PYTHONUNBUFFERED=1 GITBEAT_GIT_COMMIT=${GIT_COMMIT} \
    EXAMPLE_APP_DB=/data/example-app.db EXAMPLE_HEARTBEAT=/data/heartbeat.json
USER gitbeat
CMD ["gitbeat", "worker"]
