"""Dataverse's condition operators, in one place: what a value compared with a column means,
and one predicate per ``ConditionOperator``.

FetchXML's ``<condition operator='last-x-days' value='3'/>`` and the Web API's query function
``Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=3)`` are the same
operator ("Each of these functions has a corresponding ConditionOperator value", Use Web API
functions, https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-web-api-functions),
so :mod:`.fetchxml` and :mod:`.odata.evaluation` both evaluate them here. This module is pure
(no store, no tenant): the caller passes the values, and a :class:`Context` with the clock and
the caller.

Values are what the Web API returns (and the store keeps): text, numbers, booleans, GUIDs as
lower-case text, dates as ``YYYY-MM-DD`` and date-times as ISO 8601 text. Comparisons follow
SQL Server's, which Dataverse translates every query to: text ignores case, a GUID compares as
a GUID, a date or date-time as an instant, and anything compared with null is unknown (None),
which is not true: ``ne 'x'`` does not return rows whose value is null.

Date windows are worked out in the caller's time zone, as Dataverse does for ``UserLocal``
columns ("the user's time zone is used", FetchXML attribute element,
https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/reference/attribute).
The emulated users have no time zone setting (the emulator has no ``usersettings``), so their
zone is UTC. The documentation says little more than "within the last X days"
(https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/reference/operators);
the boundaries chosen are these, each window including its start and excluding its end:

* ``today`` / ``yesterday`` / ``tomorrow``, ``on``: the whole day; ``on-or-before``: up to the
  end of the day, ``on-or-after``: from its start;
* ``last-x-hours N``: the last N hours up to now; ``next-x-hours N``: from now, N hours;
* ``last-x-days N`` (weeks, months, years): from the start of the day N days (7N days, N
  months, N years) ago up to now; ``last-seven-days`` is ``last-x-days 7``;
* ``next-x-days N`` (weeks, months, years): from now to the end of the day N days (...) ahead;
  ``next-seven-days`` is ``next-x-days 7``;
* ``olderthan-x-minutes N`` / ``-hours N``: before now minus N; ``olderthan-x-days N`` (weeks,
  months, years): before the start of the day N days (...) ago, so ``olderthan-x-days 7`` is
  everything before ``last-seven-days`` (the pair the functions article suggests in place of
  ``not Last7Days``);
* ``this-/last-/next-week``: Sunday to Saturday ("the previous week including Sunday through
  Saturday"); ``-month`` and ``-year``: calendar months and years.

The operators that apply to hours and minutes can't be used on a ``DateOnly`` column
("You can't apply this operator on a column that is configured to use the DateOnly
behavior").

Modules: :mod:`.values` (comparisons, ``LIKE`` patterns and instants, which ``$filter``'s
``eq``... use too), :mod:`.windows` (:class:`Context` and the date windows) and
:mod:`.operators` (the operators by FetchXML name and by query function name).
"""

from __future__ import annotations

from crm_ferry.emulator.conditions.operators import (
    FUNCTIONS,
    NOT_IMPLEMENTED,
    NOT_IMPLEMENTED_FUNCTIONS,
    OPERATORS,
    Operator,
    function_parameters,
)
from crm_ferry.emulator.conditions.values import (
    ConditionError,
    LikeKind,
    as_instant,
    compare_values,
    edm_type_name,
    is_number,
    like_pattern,
    parse_instant,
    text_as,
)
from crm_ferry.emulator.conditions.windows import Context, add_months, week_start

__all__ = [
    "FUNCTIONS",
    "NOT_IMPLEMENTED",
    "NOT_IMPLEMENTED_FUNCTIONS",
    "OPERATORS",
    "ConditionError",
    "Context",
    "LikeKind",
    "Operator",
    "add_months",
    "as_instant",
    "compare_values",
    "edm_type_name",
    "function_parameters",
    "is_number",
    "like_pattern",
    "parse_instant",
    "text_as",
    "week_start",
]
