"""The shop's common library: runtime, database, domain modules and adapters."""
