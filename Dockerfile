# The q2c image: one image, three roles (`q2c migrate`, `q2c worker`, `q2c api`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# WeasyPrint renders with Pango/HarfBuzz through cffi; DejaVu covers Romanian and Russian.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.m[d] ./
COPY worker.py ./
COPY domain ./domain
COPY workflows ./workflows
COPY activities ./activities
COPY starter ./starter
COPY templates ./templates
COPY db ./db
# Editable install on purpose: `db/migrations/` and `templates/` are found next to the
# packages (Path(__file__).parent.parent), and they are not Python packages, so a plain
# `pip install .` into site-packages would leave them behind.
RUN pip install -e .

RUN useradd --system --create-home --uid 10001 q2c \
    && mkdir -p /data && chown q2c /data
USER q2c
# Local state (rendered PDFs and the like); mount a volume here.
ENV Q2C_HOME=/data \
    Q2C_API_HOST=0.0.0.0 \
    Q2C_API_PORT=8000
EXPOSE 8000
CMD ["q2c", "api"]
