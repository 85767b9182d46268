"""Record quality control 病案首页质控 (issue 5)."""
