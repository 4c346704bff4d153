FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY orchestrator ./orchestrator
COPY workers ./workers
COPY templates ./templates
RUN pip install --no-cache-dir -e .
ENV PORT=8000
EXPOSE 8000
CMD ["salesaga", "serve"]
