# The gitbeat image: the package, the example config and its handlers.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY engine ./engine
RUN pip install --no-cache-dir . && useradd --create-home --uid 1000 gitbeat
COPY gitbeat.yaml ./
COPY tasks ./tasks
COPY schedules ./schedules
COPY schema ./schema
ENV GITBEAT_CONFIG=/app PYTHONUNBUFFERED=1
USER gitbeat
CMD ["gitbeat", "worker"]
