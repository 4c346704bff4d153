"""Celery workers; `celery -A workers worker` finds the app here."""

from workers.celery_app import app

__all__ = ["app"]
