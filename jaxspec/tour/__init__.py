"""The tour (`jaxspec tour` / `make demo`): a short, verified run of every pillar.

This is an application on top of the library: it enables float64 for its own process and
writes a report; the library itself never changes global configuration.
"""

from ._report import Row as Row
from ._tour import SECTIONS as SECTIONS, run_tour as run_tour
