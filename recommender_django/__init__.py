"""Movie recommender as a Django project: catalogue, ratings, accounts, REST API, pages and admin.

Domain logic lives in `common.recommender` (framework-free); this package holds the
Django models, thin views and API handlers, management commands and templates.
"""
