"""The Prometheus rules of mpp-monitor: ``build.render()`` generates ``alerts/mpp-rules.yml``."""
