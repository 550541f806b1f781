"""The map proposer: a source profile and the tenant's metadata in, a proposed map out.

:func:`propose` starts from the default map (:func:`~crm_ferry.mapping.defaults.default_document`)
and decides, for every header of every object file that feeds a target:

* a header the reader already resolves to a canonical field follows the default map, with
  confidence 1.0 when its column exists in the tenant (or is created by the map);
* an unknown header is matched (a) to a canonical field the file does not otherwise fill,
  by a synonym table that includes other platforms' export names (SimplePractice,
  CoachAccountable, ...), by name similarity (tokens and edit distance), and by value
  patterns; or (b) directly to a column of the target table, by the column's logical and
  schema names (``Job Title`` → ``jobtitle``), keyed ``extra:<header>``; or (c) it is left
  unmapped (column null) with the reason;
* every candidate is weighed by type compatibility: values that are e-mail addresses only go
  to e-mail columns, dates only to DateTime columns, numbers only to numeric ones, and so on;
  an incompatible candidate is vetoed, a doubtful one is lowered.

Custom properties (both forms) become new columns ``custom:<key>`` on the contact and account
targets, typed by the profile. Value maps are filled from the profile's value sets and the
tenant's option labels: vertical → ``industrycode`` (unmatched verticals get ``null``: a
person picks), gender → ``gendercode``, new session types and tags → new options. Every
column and option label is read from the tenant's metadata; a tenant without the Sales
``invoice`` table gets the custom ``{prefix}_invoice`` fallback.

Each decision carries a confidence in [0, 1] and a one-line reason; those below the confirm
threshold are the ones a person is asked to look at.

Modules:

* :mod:`~.proposer`: :func:`propose`, the driver;
* :mod:`~.draft`: the document being built, the decisions (:class:`Decision`,
  :class:`ValueDecision`, :class:`Proposal`) and the tenant's columns, read once;
* :mod:`~.headers`: one object's headers → fields and columns of its targets;
* :mod:`~.customs`: custom properties → new columns;
* :mod:`~.value_maps`: value maps from value sets and option labels;
* :mod:`~.scoring`: name similarity, option labels and type compatibility;
  :mod:`~.synonyms`: the header spellings of each field and column.
"""

from __future__ import annotations

from crm_ferry.mapping.matcher.draft import Decision, Proposal, ValueDecision
from crm_ferry.mapping.matcher.headers import MATCH_CAP, MIN_SCORE
from crm_ferry.mapping.matcher.proposer import PRIMARY_ROLE, propose

__all__ = [
    "MATCH_CAP",
    "MIN_SCORE",
    "PRIMARY_ROLE",
    "Decision",
    "Proposal",
    "ValueDecision",
    "propose",
]
