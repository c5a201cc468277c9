"""Configuration generation from the inventory, one module per file it makes.

    alertmanager  alertmanager.yml (routes and receivers per team, service-hours intervals)
    prometheus    prometheus.yml (scrape job, rule files, Alertmanager, external labels)

The alert rules themselves are generic and committed in ``alerts/``.
"""
