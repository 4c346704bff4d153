# The service's image: runtime dependencies only, from requirements/runtime.lock (exact versions,
# sha256 hashes; no dev tool), run as the unprivileged user salesaga (uid/gid 10001).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 salesaga \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/salesaga \
      --shell /usr/sbin/nologin salesaga
WORKDIR /app
COPY requirements/runtime.lock requirements/
RUN pip install --require-hashes --only-binary :all: -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY orchestrator ./orchestrator
COPY workers ./workers
COPY templates ./templates
# Editable: templates/ is found beside the packages. The code stays root's, read-only to the user.
RUN pip install --no-deps --no-build-isolation -e .
USER 10001:10001
ENV PORT=8000
EXPOSE 8000
CMD ["salesaga", "serve"]
