"""The inventory: the validated model of one or more MPP sites, and its expansion."""

from monitor.inventory.expand import Loaded, expand, load_config, load_plan, load_plans
from monitor.inventory.load import ConfigError, ErrorItem, load_inventory
from monitor.inventory.model import Inventory, Site

__all__ = [
    "ConfigError",
    "ErrorItem",
    "Inventory",
    "Loaded",
    "Site",
    "expand",
    "load_config",
    "load_inventory",
    "load_plan",
    "load_plans",
]
