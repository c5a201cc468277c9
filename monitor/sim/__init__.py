"""The simulator: a whole MPP on loopback, a demo and test tool (not a runtime stage)."""
