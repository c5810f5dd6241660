"""Compilation stages between the IR and the backends: stateful expansion, dependency order."""
