"""Model operations: serving the current registry version, training from the database, versions in the admin."""
