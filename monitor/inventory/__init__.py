"""The inventory: the validated model of one or more MPP sites, and its expansion."""

from monitor.inventory.expand import counter_label, expand, load_plan
from monitor.inventory.load import ConfigError, ErrorItem, load_inventory
from monitor.inventory.model import Inventory, Site

__all__ = [
    "ConfigError",
    "ErrorItem",
    "Inventory",
    "Site",
    "counter_label",
    "expand",
    "load_inventory",
    "load_plan",
]
