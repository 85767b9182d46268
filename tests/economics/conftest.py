from econ_fixtures import tiny  # noqa: F401  (fixture)
