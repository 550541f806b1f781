"""The OData URL layer: resource paths, query options, ``$filter`` parsing and evaluation."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_ferry.emulator.odata import (
    Alias,
    Call,
    CastSegment,
    Compare,
    EntitySetSegment,
    ExpandSpec,
    Expr,
    Key,
    Lambda,
    Literal,
    Logical,
    Not,
    ODataError,
    OperationSegment,
    Property,
    PropertySegment,
    QueryFunction,
    SystemSegment,
    evaluate,
    format_filter,
    parse_filter,
    parse_query,
    parse_query_string,
    parse_resource_path,
    referenced_properties,
    sort_rows,
    tokenize,
)

GUID = "00000000-0000-0000-0000-00000000000a"
U = uuid.UUID(GUID)


def eq(name: str, value: Any) -> Compare:
    return Compare("eq", Property((name,)), Literal(value))


# ------------------------------------------------------------------------------------------
# Resource paths


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("accounts", [EntitySetSegment("accounts")]),
        (f"accounts({GUID.upper()})", [EntitySetSegment("accounts", Key(U))]),
        (
            f"accounts(accountid={GUID})",
            [EntitySetSegment("accounts", Key(named=(("accountid", U),)))],
        ),
        (
            "new_practices(new_practiceid='C-1')",
            [EntitySetSegment("new_practices", Key(named=(("new_practiceid", "C-1"),)))],
        ),
        (
            "contacts(firstname='Joe',emailaddress1='a%40b.c')",
            [
                EntitySetSegment(
                    "contacts", Key(named=(("firstname", "Joe"), ("emailaddress1", "a@b.c")))
                )
            ],
        ),
        (
            f"accounts(_primarycontactid_value={GUID})",
            [EntitySetSegment("accounts", Key(named=(("_primarycontactid_value", U),)))],
        ),
        (
            "accounts(name='O''Brien')",
            [EntitySetSegment("accounts", Key(named=(("name", "O'Brien"),)))],
        ),
        ("accounts(name='a%2Fb')", [EntitySetSegment("accounts", Key(named=(("name", "a/b"),)))]),
        ("accounts(name='a/b')", [EntitySetSegment("accounts", Key(named=(("name", "a/b"),)))]),
        (
            "accounts(name='100%25 sure')",
            [EntitySetSegment("accounts", Key(named=(("name", "100% sure"),)))],
        ),
        (
            "things(n=5,d=1.5,b=true,z=null)",
            [
                EntitySetSegment(
                    "things", Key(named=(("n", 5), ("d", Decimal("1.5")), ("b", True), ("z", None)))
                )
            ],
        ),
        (
            "things(on=2024-03-05)",
            [EntitySetSegment("things", Key(named=(("on", date(2024, 3, 5)),)))],
        ),
    ],
)
def test_key_segments_of_every_form(path: str, expected: list[object]) -> None:
    assert parse_resource_path(path) == expected


def test_property_value_ref_and_count_segments() -> None:
    assert parse_resource_path(f"accounts({GUID})/name/$value") == [
        EntitySetSegment("accounts", Key(U)),
        PropertySegment("name"),
        SystemSegment("$value"),
    ]
    assert parse_resource_path(f"accounts({GUID})/primarycontactid/$ref")[-1] == SystemSegment(
        "$ref"
    )
    assert parse_resource_path("accounts/$count") == [
        EntitySetSegment("accounts"),
        SystemSegment("$count"),
    ]


def test_prefix_query_and_trailing_slash_are_ignored() -> None:
    assert parse_resource_path("/api/data/v9.2/accounts/?$top=1") == [EntitySetSegment("accounts")]
    assert parse_resource_path("") == []


def test_operations_bound_and_unbound() -> None:
    assert parse_resource_path("WhoAmI") == [OperationSegment("WhoAmI")]
    assert parse_resource_path("WhoAmI()") == [OperationSegment("WhoAmI", parameters=())]
    ns = "Microsoft.Dynamics.CRM"
    assert parse_resource_path(f"systemusers({GUID})/{ns}.RetrieveUserPrivileges()") == [
        EntitySetSegment("systemusers", Key(U)),
        OperationSegment("RetrieveUserPrivileges", ns, (), bound=True),
    ]
    upsert = parse_resource_path(f"accounts/{ns}.UpsertMultiple")[1]
    assert upsert == OperationSegment("UpsertMultiple", ns, None, bound=True)
    assert isinstance(upsert, OperationSegment)
    assert upsert.qualified_name == f"{ns}.UpsertMultiple"
    assert parse_resource_path(f"{ns}.WhoAmI()") == [OperationSegment("WhoAmI", ns, ())]


def test_operation_parameters_and_aliases() -> None:
    [seg] = parse_resource_path(
        "RetrieveTotalRecordCount(EntityNames=@p1)", aliases={"@p1": "['account','contact']"}
    )
    assert seg == OperationSegment(
        "RetrieveTotalRecordCount", None, (("EntityNames", ("account", "contact")),)
    )
    [seg] = parse_resource_path(
        "InitializeFrom(EntityMoniker=@tid)", aliases={"@tid": "{'@odata.id':'accounts(1)'}"}
    )
    assert isinstance(seg, OperationSegment)
    assert seg.parameters == (("EntityMoniker", Alias("@tid", "{'@odata.id':'accounts(1)'}")),)
    [seg] = parse_resource_path("InitializeFrom(EntityMoniker=@missing)")
    assert isinstance(seg, OperationSegment)
    assert seg.parameters == (("EntityMoniker", Alias("@missing", None)),)


def test_unbound_operation_names_are_configurable() -> None:
    assert parse_resource_path("WhoAmI", unbound_operations=()) == [EntitySetSegment("WhoAmI")]
    assert parse_resource_path("myapi", unbound_operations={"myapi"}) == [OperationSegment("myapi")]


def test_metadata_forms() -> None:
    assert parse_resource_path(
        "EntityDefinitions(LogicalName='contact')/Attributes(LogicalName='x')"
    ) == [
        EntitySetSegment("EntityDefinitions", Key(named=(("LogicalName", "contact"),))),
        PropertySegment("Attributes", Key(named=(("LogicalName", "x"),))),
    ]
    assert parse_resource_path(
        "EntityDefinitions(LogicalName='contact')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
    )[-1] == CastSegment("PicklistAttributeMetadata", "Microsoft.Dynamics.CRM")
    assert parse_resource_path("$batch") == [SystemSegment("$batch")]
    assert parse_resource_path("$metadata") == [SystemSegment("$metadata")]


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("accounts(", "missing ')'"),
        ("accounts)", "unbalanced"),
        ("accounts('x)", "unterminated"),
        ("accounts//name", "empty segment"),
        ("accounts/$batch", "not valid here"),
        ("$value", "not valid here"),
        ("accounts/$count/name", "no segment may follow"),
        ("acc-ounts", "not valid"),
        ("accounts(abc)", "Expression expected at position 0 in 'abc'."),
        ("accounts(a=)", "Expression expected"),
        ("accounts(a=1 b=2)", "')' or ',' expected"),
        ("accounts(a=[1])", "needs a literal"),
    ],
)
def test_path_errors(path: str, detail: str) -> None:
    with pytest.raises(ODataError) as info:
        parse_resource_path(path)
    assert info.value.status == 400
    assert info.value.message == "Bad Request - Error in query syntax."
    assert detail in (info.value.detail or "")


def test_duplicate_key_property() -> None:
    with pytest.raises(ODataError, match="A key property 'a' was found twice in a key lookup"):
        parse_resource_path("accounts(a=1,a=2)")


# ------------------------------------------------------------------------------------------
# Tokenizer and literals


def test_tokens_carry_positions() -> None:
    tokens = tokenize("name eq 'it''s'")
    assert [(t.kind, t.pos) for t in tokens] == [
        ("ident", 0),
        ("ident", 5),
        ("literal", 8),
        ("end", 15),
    ]
    assert tokens[2].value == "it's"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("'a''b'", "a'b"),
        ("''", ""),
        ("42", 42),
        ("-7", -7),
        ("5L", 5),
        ("1.5", Decimal("1.5")),
        ("1.5M", Decimal("1.5")),
        ("-0.25", Decimal("-0.25")),
        ("1e3", 1000.0),
        ("2.5d", 2.5),
        ("true", True),
        ("false", False),
        ("null", None),
        (GUID.upper(), U),
        ("2024-03-05", date(2024, 3, 5)),
        ("2024-03-05T10:00:00Z", datetime(2024, 3, 5, 10, tzinfo=UTC)),
        (
            "2024-03-05T10:00:00.5+02:00",
            datetime(2024, 3, 5, 10, 0, 0, 500000, timezone(timedelta(hours=2))),
        ),
        ("2024-03-05T10:00", datetime(2024, 3, 5, 10, tzinfo=UTC)),
    ],
)
def test_literals(text: str, value: Any) -> None:
    expr = parse_filter(f"x eq {text}")
    assert isinstance(expr, Compare)
    assert expr.right == Literal(value)
    assert type(expr.right.value) is type(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name eq 'x' and", "Expression expected at position 15 in 'name eq 'x' and'."),
        ("name eq 'x", "There is an unterminated string literal at position 10 in 'name eq 'x'."),
        (
            "name eq 'x' & a",
            "Syntax error: character '&' is not valid at position 12 in 'name eq 'x' & a'.",
        ),
        ("name eq 'x' foo", "')' or operator expected at position 12 in 'name eq 'x' foo'."),
        ("(a eq 1", "')' or operator expected at position 7 in '(a eq 1'."),
        ("contains(a 'b')", "')' or ',' expected at position 11 in 'contains(a 'b')'."),
        ("", "Expression expected at position 0 in ''."),
        (
            "x eq 2024-13-45",
            "Unrecognized 'Edm.Date' literal '2024-13-45' at '5' in 'x eq 2024-13-45'.",
        ),
        ("x eq 12ab", "Unrecognized 'Edm.Decimal' literal '12ab' at '5' in 'x eq 12ab'."),
        ("a/any(o o/x eq 1)", "':' expected at position 8 in 'a/any(o o/x eq 1)'."),
        ("a/all()", "Expression expected at position 6 in 'a/all()'."),
        ("tolower(name) eq 'x'", "An unknown function with name 'tolower' was found."),
        ("Contoso.Fn(x=1)", "An unknown function with name 'Contoso.Fn' was found."),
        ("contains(name)", "No function signature for the function with name 'contains'"),
        (
            "Microsoft.Dynamics.CRM.In(PropertyName='x')",
            "Service operation 'Microsoft.Dynamics.CRM.In' is missing the required parameter "
            "'PropertyValues'.",
        ),
        (
            "Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues='a')",
            "The parameter 'PropertyValues' for 'Microsoft.Dynamics.CRM.In' must be a collection",
        ),
    ],
)
def test_filter_syntax_errors_say_where(text: str, message: str) -> None:
    with pytest.raises(ODataError) as info:
        parse_filter(text)
    assert info.value.message.startswith(message)
    assert info.value.status == 400


def test_error_position_attribute() -> None:
    with pytest.raises(ODataError) as info:
        parse_filter("name eq 'x' and")
    assert info.value.position == 15
    assert info.value.text == "name eq 'x' and"


# ------------------------------------------------------------------------------------------
# Filter trees


def test_and_binds_tighter_than_or() -> None:
    assert parse_filter("a eq 1 or b eq 2 and c eq 3") == Logical(
        "or", eq("a", 1), Logical("and", eq("b", 2), eq("c", 3))
    )
    assert parse_filter("(a eq 1 or b eq 2) and c eq 3") == Logical(
        "and", Logical("or", eq("a", 1), eq("b", 2)), eq("c", 3)
    )


def test_logical_operators_are_left_associative() -> None:
    assert parse_filter("a eq 1 or b eq 2 or c eq 3") == Logical(
        "or", Logical("or", eq("a", 1), eq("b", 2)), eq("c", 3)
    )


def test_not_is_unary_and_binds_tightest() -> None:
    name = Property(("name",))
    assert parse_filter("not contains(name,'x')") == Not(Call("contains", (name, Literal("x"))))
    assert parse_filter("not name eq 'x'") == Compare("eq", Not(name), Literal("x"))
    assert parse_filter("not (name eq 'x')") == Not(eq("name", "x"))
    assert parse_filter("not not flag") == Not(Not(Property(("flag",))))


def test_collection_values_may_be_json_strings() -> None:
    # The query functions' reference writes PropertyValues=["value1","value2"]
    # (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/in),
    # as Microsoft's Python SDK does; JSON escapes apply inside, and only inside collections.
    expected = QueryFunction("In", (("PropertyName", "name"), ("PropertyValues", ("a b", 'c"d'))))
    text = 'Microsoft.Dynamics.CRM.In(PropertyName=\'name\',PropertyValues=["a b","c\\"d"])'
    assert parse_filter(text) == expected
    mixed = "Microsoft.Dynamics.CRM.In(PropertyName='n',PropertyValues=['x',\"it's\"])"
    assert parse_filter(mixed) == QueryFunction(
        "In", (("PropertyName", "n"), ("PropertyValues", ("x", "it's")))
    )
    with pytest.raises(ODataError, match="is not valid at position 8"):
        parse_filter('name eq "x"')
    with pytest.raises(ODataError, match="unterminated"):
        parse_filter("Microsoft.Dynamics.CRM.In(PropertyName='n',PropertyValues=[\"x])")


def test_json_strings_in_an_expand_keep_their_commas_and_parentheses() -> None:
    options = parse_query(
        {
            "$expand": "contact_customer_accounts($filter=Microsoft.Dynamics.CRM.In("
            'PropertyName=\'lastname\',PropertyValues=["a,b","c)d"]);$select=lastname),'
            "primarycontactid"
        }
    )
    first, second = options.expand
    assert first.filter == QueryFunction(
        "In", (("PropertyName", "lastname"), ("PropertyValues", ("a,b", "c)d")))
    )
    assert first.select == ["lastname"]
    assert second.nav == "primarycontactid"


def test_property_paths_query_functions_and_lambdas() -> None:
    assert parse_filter("parentcustomerid_account/name eq 'x'") == Compare(
        "eq", Property(("parentcustomerid_account", "name")), Literal("x")
    )
    assert parse_filter("_parentcustomerid_value eq " + GUID) == eq("_parentcustomerid_value", U)
    assert parse_filter(
        "Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['a','b'])"
    ) == (QueryFunction("In", (("PropertyName", "name"), ("PropertyValues", ("a", "b")))))
    assert parse_filter("Microsoft.Dynamics.CRM.Null(PropertyName='x')") == QueryFunction(
        "Null", (("PropertyName", "x"),)
    )
    assert parse_filter("contact_customer_accounts/any(o:o/name eq 'x')") == Lambda(
        ("contact_customer_accounts",),
        "any",
        "o",
        Compare("eq", Property(("o", "name")), Literal("x")),
    )
    assert parse_filter("contact_customer_accounts/any()") == Lambda(
        ("contact_customer_accounts",), "any", None, None
    )
    assert parse_filter("firstname eq lastname") == Compare(
        "eq", Property(("firstname",)), Property(("lastname",))
    )


def test_aliases_are_substituted_and_missing_ones_are_null() -> None:
    aliases = {"@p1": "'Contoso'", "@n": "'name'", "@v": "['a','b']"}
    assert parse_filter("name eq @p1", aliases) == eq("name", "Contoso")
    assert parse_filter("name eq @nope", aliases) == eq("name", None)
    assert parse_filter(
        "Microsoft.Dynamics.CRM.In(PropertyName=@n,PropertyValues=@v)", aliases
    ) == (QueryFunction("In", (("PropertyName", "name"), ("PropertyValues", ("a", "b")))))


def test_format_filter_uses_only_needed_parentheses() -> None:
    for text in [
        "a eq 1 or b eq 2 and c eq 3",
        "(a eq 1 or b eq 2) and c eq 3",
        "not (name eq 'it''s')",
        "contact_customer_accounts/any(o:o/name eq 'x' and o/n gt 1)",
        "Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['a','b'])",
    ]:
        assert format_filter(parse_filter(text)) == text


def test_referenced_properties() -> None:
    expr = parse_filter(
        "name eq 'x' and not contains(emailaddress1,'@') and parentcustomerid_account/name eq 'y' "
        "and Microsoft.Dynamics.CRM.In(PropertyName='statecode',PropertyValues=['0']) "
        "and contact_customer_accounts/any(o:o/revenue gt 5)"
    )
    assert referenced_properties(expr) == {
        "name",
        "emailaddress1",
        "parentcustomerid_account/name",
        "statecode",
        "contact_customer_accounts",
    }


# ------------------------------------------------------------------------------------------
# Evaluation

ROW: dict[str, Any] = {
    "name": "Contoso Ltd",
    "revenue": Decimal("100.5"),
    "employees": 5,
    "ratio": 2.5,
    "donotemail": True,
    "fax": None,
    "_parentcustomerid_value": GUID,
    "createdon": "2024-03-05T09:00:00Z",
    "birthdate": "2024-03-05",
    "firstname": "Ann",
    "lastname": "ANN",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name eq 'CONTOSO LTD'", True),
        ("name ne 'contoso ltd'", False),
        ("name gt 'contoso'", True),
        ("name lt 'D'", True),
        ("fax eq null", True),
        ("fax ne null", False),
        ("name eq null", False),
        ("name ne null", True),
        ("null eq fax", True),
        ("fax ne 'x'", False),  # a null column never satisfies ne: SQL semantics
        ("fax gt 5", False),
        ("fax lt 5", False),
        ("not (fax gt 5)", False),
        ("fax gt null", False),
        ("revenue gt 100", True),
        ("revenue eq 100.5", True),
        ("employees eq 5.0", True),
        ("employees ge 5 and employees le 5", True),
        ("ratio lt 3", True),
        ("ratio eq 2.5d", True),
        ("ratio eq NaN", False),
        ("ratio ne NaN", True),
        ("ratio lt INF", True),
        ("donotemail", True),
        ("donotemail eq true", True),
        ("not donotemail", False),
        ("_parentcustomerid_value eq " + GUID.upper(), True),
        ("_parentcustomerid_value ne 00000000-0000-0000-0000-000000000001", True),
        ("createdon lt 2024-03-05T10:00:00Z", True),
        ("createdon eq 2024-03-05T11:00:00+02:00", True),
        ("createdon gt 2024-03-05T10:00:00+02:00", True),
        ("createdon ge 2024-03-05", True),
        ("createdon lt 2024-03-05", False),
        ("birthdate eq 2024-03-05", True),
        ("birthdate lt 2024-03-06", True),
        ("birthdate lt 2024-03-05T00:00:01Z", True),
        ("firstname eq lastname", True),
        ("contains(name,'TOSO')", True),
        ("startswith(name,'con')", True),
        ("endswith(name,'LTD')", True),
        ("contains(name,'x')", False),
        ("contains(name,'c_n')", True),  # LIKE wildcards, as Dataverse passes them through
        ("startswith(name,'c%L')", True),
        ("contains(name,'[ln]td')", True),
        ("contains(fax,'a')", False),
        ("not contains(fax,'a')", False),
        ("not contains(name,'x')", True),
        ("fax eq 'x' or employees eq 5", True),
        ("fax eq 'x' and employees eq 5", False),
        ("not (fax eq 'x' and employees eq 6)", True),
        ("not (fax eq 'x' or employees eq 6)", False),
        ("Microsoft.Dynamics.CRM.In(PropertyName='employees',PropertyValues=['4','5'])", True),
        ("Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['contoso ltd','b'])", True),
        ("Microsoft.Dynamics.CRM.In(PropertyName='fax',PropertyValues=['a'])", False),
        ("Microsoft.Dynamics.CRM.NotIn(PropertyName='name',PropertyValues=['a','b'])", True),
        ("Microsoft.Dynamics.CRM.NotIn(PropertyName='fax',PropertyValues=['a'])", False),
        ("Microsoft.Dynamics.CRM.Between(PropertyName='employees',PropertyValues=['1','5'])", True),
        (
            "Microsoft.Dynamics.CRM.NotBetween(PropertyName='employees',PropertyValues=['1','5'])",
            False,
        ),
        (
            "Microsoft.Dynamics.CRM.Between(PropertyName='createdon',PropertyValues=['2024-03-01','2024-03-06'])",
            True,
        ),
        ("Microsoft.Dynamics.CRM.Null(PropertyName='fax')", True),
        ("Microsoft.Dynamics.CRM.NotNull(PropertyName='fax')", False),
        ("Microsoft.Dynamics.CRM.NotNull(PropertyName='name')", True),
        ("missing eq null", True),
    ],
)
def test_evaluate(text: str, expected: bool) -> None:
    assert evaluate(parse_filter(text), ROW) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name eq 5",
            "A binary operator with incompatible types was detected. Found operand types "
            "'Edm.String' and 'Edm.Int32' for operator kind 'Equal'.",
        ),
        ("employees gt 'x'", "'Edm.Int32' and 'Edm.String' for operator kind 'GreaterThan'"),
        ("name eq " + GUID, "'Edm.String' and 'Edm.Guid'"),
        ("name lt 2024-01-01", "'Edm.String' and 'Edm.Date'"),
        ("donotemail eq 1", "'Edm.Boolean' and 'Edm.Int32'"),
        ("not name eq 'x'", "unary operator 'Not'"),
        ("name", "The $filter expression must evaluate to a single boolean value."),
        ("contains(employees,'5')", "No function signature for the function with name 'contains'"),
    ],
)
def test_evaluate_type_errors(text: str, message: str) -> None:
    with pytest.raises(ODataError) as info:
        evaluate(parse_filter(text), ROW)
    assert message in info.value.message
    assert info.value.status == 400


@pytest.mark.parametrize(
    "text",
    [
        "parentcustomerid_account/name eq 'x'",
        "contact_customer_accounts/any(o:o/name eq 'x')",
    ],
)
def test_unsupported_without_resolver(text: str) -> None:
    with pytest.raises(ODataError, match="not supported by the emulator") as info:
        evaluate(parse_filter(text), ROW)
    assert info.value.status == 501


def test_a_documented_query_function_the_emulator_lacks_is_501() -> None:
    text = "Microsoft.Dynamics.CRM.InFiscalYear(PropertyName='createdon',PropertyValue=2023)"
    with pytest.raises(ODataError, match="InFiscalYear' is not implemented by") as info:
        evaluate(parse_filter(text), ROW)
    assert info.value.status == 501


def test_navigation_path_through_resolver() -> None:
    asked: list[str] = []

    def resolve(path: str) -> Any:
        asked.append(path)
        return "Fabrikam"

    assert evaluate(parse_filter("parentcustomerid_account/name eq 'fabrikam'"), ROW, resolve)
    assert asked == ["parentcustomerid_account/name"]


def test_lambdas_through_resolver() -> None:
    children = [{"name": "A", "revenue": 5}, {"name": "B", "revenue": None}]

    def resolve(path: str) -> Any:
        return children if path == "contact_customer_accounts" else []

    def check(text: str) -> bool:
        return evaluate(parse_filter(text), ROW, resolve)

    assert check("contact_customer_accounts/any(o:o/name eq 'b')")
    assert not check("contact_customer_accounts/any(o:o/name eq 'c')")
    assert check("contact_customer_accounts/all(o:o/name ne 'c')")
    assert not check("contact_customer_accounts/all(o:o/revenue gt 1)")  # null: unknown
    assert check("contact_customer_accounts/any()")
    assert not check("other/any()")
    assert check("other/all(o:o/name eq 'x')")  # vacuous truth
    assert check("contact_customer_accounts/any(o:o/name eq name or o/revenue eq 5)")


# ------------------------------------------------------------------------------------------
# Query options


COOKIE = '<cookie pagenumber="2" pagingcookie="%3ccookie%3e" istracking="False" />'


def test_parse_query_all_options() -> None:
    options = parse_query(
        {
            "$select": "name, _parentcustomerid_value",
            "$filter": "name eq @p1",
            "@p1": "'Contoso'",
            "$orderby": "name desc,createdon asc, revenue",
            "$top": "10",
            "$count": "true",
            "$expand": "primarycontactid($select=fullname,emailaddress1;"
            "$filter=contains(fullname,'a;b');$orderby=fullname;$top=2;"
            "$expand=owninguser($select=fullname)),owninguser",
            "$skiptoken": COOKIE,
        }
    )
    assert options.select == ["name", "_parentcustomerid_value"]
    assert options.filter == eq("name", "Contoso")
    assert options.orderby == [("name", True), ("createdon", False), ("revenue", False)]
    assert options.top == 10
    assert options.count is True
    assert options.expand == [
        ExpandSpec(
            "primarycontactid",
            select=["fullname", "emailaddress1"],
            filter=Call("contains", (Property(("fullname",)), Literal("a;b"))),
            top=2,
            orderby=[("fullname", False)],
            expand=[ExpandSpec("owninguser", select=["fullname"])],
        ),
        ExpandSpec("owninguser"),
    ]
    assert (
        options.skiptoken
        == '<cookie pagenumber="2" pagingcookie="%3ccookie%3e" istracking="False" />'
    )
    assert options.aliases == {"@p1": "'Contoso'"}


def test_parse_query_defaults_and_case_insensitive_names() -> None:
    options = parse_query({})
    assert (options.select, options.filter, options.orderby, options.top, options.count) == (
        None,
        None,
        [],
        None,
        False,
    )
    assert parse_query({"$TOP": "0"}).top == 0
    assert parse_query({"$count": "false"}).count is False


@pytest.mark.parametrize(
    ("params", "message", "status"),
    [
        ({"$top": "-1"}, "Invalid value '-1' for $top query option found.", 400),
        (
            {"$top": "ten"},
            "Invalid value 'ten' for $top query option found. The $top query option requires a "
            "non-negative integer value.",
            400,
        ),
        ({"$count": "yes"}, "Invalid value 'yes' for $count query option found.", 400),
        ({"$skip": "5"}, "The query parameter $skip is not supported", 400),
        ({"$foo": "1"}, "The query parameter $foo is not supported", 400),
        (
            {"$apply": "topcount(5,revenue)"},
            "The $apply transformation 'topcount' is not implemented by the emulator",
            501,
        ),
        ({"$select": "name,"}, "An identifier was expected at position 5 in 'name,'.", 400),
        ({"$orderby": "name up"}, "',' expected at position 5 in 'name up'.", 400),
        ({"$filter": "name eq"}, "Expression expected at position 7 in 'name eq'.", 400),
        ({"$expand": "a($foo=1)"}, "The query parameter $foo is not supported inside $expand", 400),
        ({"$expand": "a($select=x"}, "')' or operator expected at position 11", 400),
    ],
)
def test_parse_query_errors(params: dict[str, str], message: str, status: int) -> None:
    with pytest.raises(ODataError) as info:
        parse_query(params)
    assert info.value.message.startswith(message)
    assert info.value.status == status


def test_parse_query_string_decodes_and_rejects_duplicates() -> None:
    options = parse_query_string(
        "?$select=name&$filter=name%20eq%20'a%2Bb'%20or%20name%20eq%20'c+d'"
    )
    assert options.filter == Logical("or", eq("name", "a+b"), eq("name", "c d"))
    with pytest.raises(ODataError, match="specified more than once"):
        parse_query_string("$top=1&$TOP=2")


# ------------------------------------------------------------------------------------------
# Sorting


def test_sort_rows_nulls_first_ascending_last_descending_case_insensitive() -> None:
    rows: list[dict[str, Any]] = [
        {"n": "b", "k": 1},
        {"n": None, "k": 2},
        {"n": "A", "k": 3},
        {"n": "a", "k": 4},
    ]
    assert [r["k"] for r in sort_rows(rows, [("n", False)])] == [2, 3, 4, 1]
    assert [r["k"] for r in sort_rows(rows, [("n", True)])] == [1, 3, 4, 2]


def test_sort_rows_by_several_keys() -> None:
    rows: list[dict[str, Any]] = [
        {"a": 1, "b": Decimal("2.5")},
        {"a": 2, "b": 1},
        {"a": 1, "b": None},
        {"a": 1, "b": 3.0},
    ]
    assert sort_rows(rows, [("a", False), ("b", True)]) == [
        {"a": 1, "b": 3.0},
        {"a": 1, "b": Decimal("2.5")},
        {"a": 1, "b": None},
        {"a": 2, "b": 1},
    ]


# ------------------------------------------------------------------------------------------
# Properties

_NAMES = st.sampled_from(["name", "revenue", "flag", "_x_value", "createdon", "fax"])
_LITERALS = st.one_of(
    st.text(max_size=8),
    st.integers(-(10**6), 10**6),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-1000, max_value=1000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.none(),
    st.uuids(),
    st.dates(),
    st.datetimes(timezones=st.just(UTC)),
)


def _leaves() -> st.SearchStrategy[Expr]:
    props = _NAMES.map(lambda n: Property((n,)))
    return st.one_of(
        st.builds(
            Compare,
            st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"]),
            props,
            _LITERALS.map(Literal),
        ),
        st.builds(
            Call,
            st.sampled_from(["contains", "startswith", "endswith"]),
            st.tuples(props, st.text(max_size=5).map(Literal)),
        ),
        st.builds(
            lambda n, vs: QueryFunction("In", (("PropertyName", n), ("PropertyValues", tuple(vs)))),
            _NAMES,
            st.lists(st.text(max_size=4), min_size=1, max_size=3),
        ),
        props,
    )


EXPRESSIONS: st.SearchStrategy[Expr] = st.recursive(
    _leaves(),
    lambda inner: st.one_of(
        st.builds(Logical, st.sampled_from(["and", "or"]), inner, inner),
        st.builds(Not, inner),
    ),
    max_leaves=8,
)


@given(EXPRESSIONS)
def test_format_then_parse_gives_the_same_tree(expr: Expr) -> None:
    assert parse_filter(format_filter(expr)) == expr


_BOOL_LEAVES: st.SearchStrategy[Expr] = st.one_of(
    st.builds(
        Compare,
        st.sampled_from(["eq", "ne", "gt", "lt"]),
        st.sampled_from(["n", "m"]).map(lambda n: Property((n,))),
        st.one_of(st.integers(0, 3), st.none()).map(Literal),
    ),
    st.sampled_from(["flag", "other"]).map(lambda n: Property((n,))),
)
BOOL_EXPRESSIONS: st.SearchStrategy[Expr] = st.recursive(
    _BOOL_LEAVES,
    lambda inner: st.one_of(
        st.builds(Logical, st.sampled_from(["and", "or"]), inner, inner), st.builds(Not, inner)
    ),
    max_leaves=6,
)
ROWS = st.fixed_dictionaries(
    {
        "n": st.one_of(st.integers(0, 3), st.none()),
        "m": st.one_of(st.integers(0, 3), st.none()),
        "flag": st.one_of(st.booleans(), st.none()),
        "other": st.one_of(st.booleans(), st.none()),
    }
)


@given(BOOL_EXPRESSIONS, ROWS)
def test_not_not_is_identity(expr: Expr, row: dict[str, Any]) -> None:
    assert evaluate(Not(Not(expr)), row) == evaluate(expr, row)


@given(BOOL_EXPRESSIONS, BOOL_EXPRESSIONS, ROWS)
def test_de_morgan_holds_in_three_valued_logic(a: Expr, b: Expr, row: dict[str, Any]) -> None:
    left = Not(Logical("and", a, b))
    right = Logical("or", Not(a), Not(b))
    assert evaluate(left, row) == evaluate(right, row)


@given(st.text(max_size=20))
def test_string_literals_survive_quoting(text: str) -> None:
    expr = parse_filter(format_filter(eq("name", text)))
    assert expr == eq("name", text)
    assert evaluate(expr, {"name": text}) is True
