"""Rebuild guides (automations, integrations, reports), the email template reference and the
data dictionary of every migrated column."""

from crm_ferry.references.dictionary import DictionaryRow, data_dictionary
from crm_ferry.references.htmltext import html_to_text
from crm_ferry.references.writer import REFERENCES_DIR, ReferencesResult, write_references

__all__ = [
    "REFERENCES_DIR",
    "DictionaryRow",
    "ReferencesResult",
    "data_dictionary",
    "html_to_text",
    "write_references",
]
