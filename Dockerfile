# The q2c image: one image, three roles (`q2c migrate`, `q2c worker`, `q2c api`).
# `q2c migrate` connects as the schema owner (MIGRATION_DATABASE_URL); `q2c worker` and
# `q2c api` as the least-privileged q2c_app (DATABASE_URL): give each container only its URL.
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

WORKDIR /src
COPY pyproject.toml README.m[d] ./
COPY worker.py settings.py temporal_connection.py ./
COPY domain ./domain
COPY messages ./messages
COPY db ./db
COPY workflows ./workflows
COPY activities ./activities
COPY starter ./starter
COPY templates ./templates
# Templates and migrations are package data (pyproject.toml), found beside their packages
# in site-packages; tests/test_packaging.py builds the wheel from these same inputs. The
# sources go once installed, so the image can only run the installed copy.
RUN pip install . && rm -rf /src

# Local state (rendered PDFs and the like); mount a volume here.
WORKDIR /data
RUN useradd --system --create-home --uid 10001 q2c \
    && mkdir -p /data && chown q2c /data
USER q2c
ENV Q2C_HOME=/data \
    Q2C_API_HOST=0.0.0.0 \
    Q2C_API_PORT=8000
EXPOSE 8000
CMD ["q2c", "api"]
