"""The map from The Practice's objects and fields to Dataverse tables and columns."""
