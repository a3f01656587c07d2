"""Accounts: API tokens (stored hashed) and sign-up."""
