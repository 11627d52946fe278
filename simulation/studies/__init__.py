"""Studies that go beyond one sweep: calibration to observed data (``calibrate``), and the
robustness and scenario-discovery studies built on the same scenario paths."""
