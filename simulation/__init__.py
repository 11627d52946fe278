"""cxsim: customer journeys under reactive service and proactive experience design.

The public API: ``load_scenario``, ``simulate`` (with ``Diagnostics`` for per-customer
records), ``load_results``.
"""

from ._numba_target import prefer_full_width_vectors

prefer_full_width_vectors()  # before numba reads its settings

from ._numba_cache import use_source_keyed_cache  # noqa: E402

use_source_keyed_cache()  # before any jitted module is imported

from .diagnostics import Diagnostics  # noqa: E402
from .results import Results, load_results  # noqa: E402
from .scenario import Scenario, ScenarioError, load_scenario  # noqa: E402
from .simulate import simulate  # noqa: E402

__all__ = ["Diagnostics", "Results", "Scenario", "ScenarioError", "load_results", "load_scenario", "simulate"]
