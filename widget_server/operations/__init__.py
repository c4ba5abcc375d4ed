"""What the platform's operators run the server with: metrics, logs, readiness, shutdown."""
