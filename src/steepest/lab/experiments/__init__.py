"""The experiments of the lab, one module per lecture topic; importing this registers them."""

from . import losses  # noqa: F401
