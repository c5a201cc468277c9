"""End-to-end tests: namespaces, the monitor, real Prometheus and Alertmanager, a sink."""
