# A stand-in legacy app: the unmodified v1 SDK (qcloud-image) and a script using it. Build context: deploy/compose.
FROM python:3.11.14-slim-bookworm
RUN pip install --no-cache-dir --disable-pip-version-check qcloud-image==1.0.0 requests==2.32.3 \
 && groupadd --system --gid 10002 app \
 && useradd --system --uid 10002 --gid 10002 --no-create-home --shell /usr/sbin/nologin app
COPY legacy_app.py /app/legacy_app.py
USER 10002:10002
ENTRYPOINT ["python", "/app/legacy_app.py"]
