"""salesaga: transactional sales orchestration over CRMs without transactions."""

__version__ = "0.1.0"
