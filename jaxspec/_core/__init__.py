"""Private core shared by every pillar: tree-vector arithmetic, dtypes, result codes.

Pillars import from here and from each other's *public* API only.
"""
