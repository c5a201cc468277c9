"""mpp-monitor: monitoring for a Mal Pelayanan Publik (public service mall)."""

__version__ = "0.2.0"
