"""Every Dramatiq actor, one module per domain. Importing this package installs the broker
from settings first, then declares the actors on it.

Actors are thin: they take ids, load rows and call one service. Each sets its queue, retries,
backoff and time limit explicitly (Dramatiq's defaults retry for weeks). Services enqueue by
actor name (config.tasks.enqueue_on_commit), so they never import this package.
"""

from config.dramatiq import setup_broker

setup_broker()

from workers.actors import accounts, ml, orders, photos, support  # noqa: E402,F401
