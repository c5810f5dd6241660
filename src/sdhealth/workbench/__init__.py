"""The modeller's workbench in the browser: ``sdhealth serve MODEL`` (see :mod:`.app`)."""

from sdhealth.workbench.app import Workbench, create_app

__all__ = ["Workbench", "create_app"]
