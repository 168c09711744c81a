"""factory_boy factories, one module per app, re-exported: ``from tests.factories import X``."""

from tests.factories.accounts import *  # noqa: F403
from tests.factories.ml import *  # noqa: F403
from tests.factories.orders import *  # noqa: F403
from tests.factories.photos import *  # noqa: F403
from tests.factories.support import *  # noqa: F403
