"""The schema's alembic migrations: env.py, script.py.mako and versions/, run by
orchestrator/store/migrate.py (`salesaga db upgrade`). No alembic.ini: the configuration is
built in code, and env.py runs on the connection migrate.py hands it."""
