"""marketcast: revenue forecasting per market on Spark and Delta Lake."""

__version__ = "0.1.0"
