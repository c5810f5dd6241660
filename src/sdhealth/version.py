"""The version of sdhealth (``sdhealth.__version__``), in a module any layer may import."""

__version__ = "0.1.0"
