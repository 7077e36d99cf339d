"""The experiments of the lab, one module per lecture topic; importing this package imports
every module in it, which registers their experiments."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
