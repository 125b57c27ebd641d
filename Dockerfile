# The gateway's image: `edxml-gateway serve` (the default) or `worker` / `migrate`.
# Settings come from EDXML_* environment variables (see config/production.example.yaml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Fonts with Vietnamese glyphs for the stamp on signed PDFs (Liberation Serif, DejaVu Serif).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-liberation2 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY edxml ./edxml
COPY schemas ./schemas
COPY adapters ./adapters
COPY gateway ./gateway
COPY devtools ./devtools
COPY config ./config
RUN pip install --no-cache-dir .

# A system user owns only the data folder; the code stays read-only to it.
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/edxml-gateway gateway
USER gateway
ENV EDXML_DATA_DIR=/var/lib/edxml-gateway
VOLUME ["/var/lib/edxml-gateway"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]

CMD ["edxml-gateway", "serve", "--host", "0.0.0.0", "--port", "8080"]
