"""mlapps shared core: datasets, training, evaluation, model registry and domain logic.

Framework-free on purpose: nothing in this package imports Flask or Django, so
the same functions serve both kinds of application.
"""

__version__ = "0.1.0"
