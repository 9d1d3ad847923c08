FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gemgate gemgate
COPY router_service router_service
COPY budget_service budget_service
COPY rest_facade rest_facade
RUN pip install --no-cache-dir .
ENV PYTHONUNBUFFERED=1
# docker-compose runs each service as its own container with its own command.
CMD ["gemgate", "--config", "/config/config.yaml", "--host", "0.0.0.0", "--port", "4000"]
