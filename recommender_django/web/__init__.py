"""Server-rendered pages (Django templates, local assets only) and health checks."""
