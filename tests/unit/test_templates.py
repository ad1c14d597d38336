"""Templates of the fleet: placeholders read once, rendered per request; ${NAME} from the environment."""

from __future__ import annotations

import time
from typing import Any

import pytest

from load_tests.core.errors import ConfigError
from load_tests.core.templates import Template, TemplateError, parse_steps

WHERE = "fleet.payments.operations[0].json"
ROW = {
    "amount": 12.5,
    "count": 3,
    "label": "fraud",
    "col with spaces": "spaced",
    "payload": {"items": [{"sku": "A-1"}, {"sku": "B-2"}], "tags": ["x", "y"]},
    "active": True,
    "note": None,
}
CONTEXT: dict[str, Any] = {"row": ROW, "vars": {"token": "tok-9", "order": {"id": 77}}, "id": "payments-42"}


def render(value: Any, context: dict[str, Any] | None = None) -> Any:
    return Template.compile(value, WHERE).render(CONTEXT if context is None else context)


def test_a_lone_placeholder_renders_to_the_value_itself() -> None:
    assert render("{{ row }}") == ROW
    assert render("{{ row.count }}") == 3
    assert render("{{ row.amount }}") == 12.5
    assert render("{{ row.payload }}") == {"items": [{"sku": "A-1"}, {"sku": "B-2"}], "tags": ["x", "y"]}
    assert render("{{ row.active }}") is True
    assert render("{{ row.note }}") is None
    assert render("{{ vars.order }}") == {"id": 77}
    assert render("{{ id }}") == "payments-42"


def test_nested_fields_indexes_and_quoted_columns() -> None:
    assert render("{{ row.payload.items[1].sku }}") == "B-2"
    assert render("{{ row.payload.items[-1].sku }}") == "B-2"
    assert render("{{ row.payload.tags[0] }}") == "x"
    assert render('{{ row["col with spaces"] }}') == "spaced"
    assert render("{{ row['col with spaces'] }}") == "spaced"
    assert render('{{ row["payload"]["items"][ 0 ]["sku"] }}') == "A-1"
    assert render("{{ vars.order.id }}") == 77
    assert render('{{ vars["token"] }}') == "tok-9"


def test_whitespace_inside_the_braces_is_optional() -> None:
    assert render("{{row.label}}") == "fraud"
    assert render("{{   row.label   }}") == "fraud"
    assert render("{{\n row.label\n}}") == "fraud"


def test_placeholders_inside_text_are_written_as_text() -> None:
    assert render("/orders/{{ row.count }}/items") == "/orders/3/items"
    assert render("{{ row.label }}-{{ id }}") == "fraud-payments-42"
    assert render("amount={{ row.amount }}") == "amount=12.5"
    assert render("p={{ row.payload.tags }}") == 'p=["x", "y"]'
    assert render("o={{ vars.order }}") == 'o={"id": 77}'
    assert render("a={{ row.active }} n={{ row.note }}") == "a=true n=null"
    assert render(" {{ row.count }}") == " 3"  # not a lone placeholder: text
    assert render("{literal} {{ row.count }} }") == "{literal} 3 }"


def test_lists_and_dicts_render_deeply_and_keys_become_text() -> None:
    template = {
        "user": "{{ vars.token }}",
        "{{ row.label }}": 1,
        "{{ row.count }}": "{{ row.count }}",
        "lines": [{"sku": "{{ row.payload.items[0].sku }}", "qty": 2}, "{{ id }}"],
        "fixed": {"a": [1, 2]},
        7: "seven",
    }
    assert render(template) == {
        "user": "tok-9",
        "fraud": 1,
        "3": 3,
        "lines": [{"sku": "A-1", "qty": 2}, "payments-42"],
        "fixed": {"a": [1, 2]},
        7: "seven",
    }


def test_refs_name_every_reference_as_a_path() -> None:
    template = Template.compile(
        {
            "a": "{{ row.amount }}",
            "{{ vars.token }}": ["{{ id }}", "x{{ row }}"],
            "deep": '{{ row.payload.items[0]["sku"] }} {{ row["col with spaces"] }}',
        },
        WHERE,
    )
    assert template.refs == {
        ("row", "amount"),
        ("vars", "token"),
        ("id",),
        ("row",),
        ("row", "payload", "items", 0, "sku"),
        ("row", "col with spaces"),
    }
    assert Template.compile({"a": 1}, WHERE).refs == frozenset()


@pytest.mark.parametrize(
    "value", ["plain", 42, 1.5, True, None, [1, "a", {"b": None}], {"k": {"n": [1, 2]}, "e": ""}, ""]
)
def test_a_constant_renders_to_an_equal_value_with_no_context(value: Any) -> None:
    template = Template.compile(value, WHERE)
    assert template.is_constant
    assert template.refs == frozenset()
    assert template.render({}) == value
    assert template.render(CONTEXT) == value


def test_a_template_with_a_placeholder_or_an_env_name_is_not_constant() -> None:
    assert not Template.compile({"a": ["{{ id }}"]}, WHERE).is_constant
    assert not Template.compile("Bearer ${TOKEN}", WHERE).is_constant
    assert Template.compile("Bearer ${TOKEN}", WHERE).with_env({"TOKEN": "t"}, WHERE).is_constant


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("{{ foo }}", "{{ foo }}: unknown name 'foo'"),
        ("/x/{{ rows.a }}", "{{ rows.a }}: unknown name 'rows'"),
        ("{{ row. }}", "{{ row. }}: cannot read '.'"),
        ("{{ row[0 }}", "{{ row[0 }}: cannot read '[0'"),
        ("{{ row.a + 1 }}", "{{ row.a + 1 }}: cannot read ' + 1'"),
        ("{{ }}", "{{ }} is not a placeholder"),
        ("{{ 3 }}", "{{ 3 }} is not a placeholder"),
        ("{{ id.x }}", "{{ id.x }}: id is a plain string"),
        ("{{ vars }}", "{{ vars }}: name the variable, as in vars.NAME"),
        ("{{ vars[0] }}", "{{ vars[0] }}: name the variable"),
        ({"k": ["ok", "{{ nope }}"]}, "{{ nope }}: unknown name 'nope'"),
        ({"{{ row key }}": 1}, "{{ row key }}: cannot read ' key'"),
        ("open {{ row.a", "'{{' has no closing '}}'"),
        ("cost ${", "'${' has no closing '}'"),
    ],
)
def test_a_bad_placeholder_is_a_one_line_config_error_naming_where(value: Any, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Template.compile(value, WHERE)
    message = str(caught.value)
    assert message.startswith(f"{WHERE}: ")
    assert named in message
    assert "\n" not in message


def test_an_unknown_name_says_what_would_be_valid() -> None:
    with pytest.raises(ConfigError, match=r"use row, row\.COLUMN, row\[\"a column\"\], vars\.NAME or id"):
        Template.compile("{{ user.id }}", WHERE)


def test_env_names_are_found_in_values_and_keys_and_filled_in_as_literal_text() -> None:
    template = Template.compile({"Authorization": "Bearer ${API_TOKEN}", "${HEADER_NAME}": "{{ id }}"}, WHERE)
    assert template.env_names == {"API_TOKEN", "HEADER_NAME"}
    filled = template.with_env({"API_TOKEN": "s3cr{{ row }}t", "HEADER_NAME": "X-Key", "OTHER": "o"}, WHERE)
    assert filled.env_names == frozenset()
    assert filled.render(CONTEXT) == {"Authorization": "Bearer s3cr{{ row }}t", "X-Key": "payments-42"}


def test_with_env_on_a_template_without_env_names_is_the_same_template() -> None:
    template = Template.compile({"a": "{{ id }}"}, WHERE)
    assert template.with_env({}, WHERE) is template


def test_a_missing_env_variable_is_named_and_no_value_is_ever_shown() -> None:
    template = Template.compile({"a": "${PRESENT} ${MISSING}"}, WHERE)
    with pytest.raises(ConfigError) as caught:
        template.with_env({"PRESENT": "hunter2-secret"}, "fleet.payments.headers")
    assert str(caught.value) == "fleet.payments.headers: ${MISSING} is not set in the environment"
    with pytest.raises(ConfigError) as caught:
        Template.compile("${B} ${A}", WHERE).with_env({"C": "hunter2-secret"}, WHERE)
    assert str(caught.value) == f"{WHERE}: ${{A}}, ${{B}} are not set in the environment"
    assert "hunter2" not in str(caught.value)


def test_the_source_and_description_keep_the_env_name_not_its_value() -> None:
    filled = Template.compile("Bearer ${API_TOKEN}", WHERE).with_env({"API_TOKEN": "hunter2-secret"}, WHERE)
    assert filled.render({}) == "Bearer hunter2-secret"
    assert "hunter2" not in repr(filled)
    assert "hunter2" not in filled.describe()
    assert filled.describe() == '"Bearer ${API_TOKEN}"'


def test_double_dollar_writes_a_literal_env_reference() -> None:
    template = Template.compile("price $${AMOUNT} and $$ and $5 and ${REAL}", WHERE)
    assert template.env_names == {"REAL"}
    assert template.with_env({"REAL": "r"}, WHERE).render({}) == "price ${AMOUNT} and $$ and $5 and r"
    assert Template.compile("$${AMOUNT}", WHERE).render({}) == "${AMOUNT}"


def test_a_bad_env_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^fleet\.payments\.operations\[0\]\.json: \$\{API KEY\} is not an env"):
        Template.compile("${API KEY}", WHERE)


def test_rendering_before_filling_in_the_environment_is_a_bug_that_says_so() -> None:
    with pytest.raises(RuntimeError, match=r"\$\{TOKEN\} was not filled in"):
        Template.compile("Bearer ${TOKEN}", WHERE).render({})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{{ row.amout }}", "row has no column 'amout'"),
        ("x-{{ vars.session }}", "vars has no 'session' (no earlier step captured it)"),
        ("{{ row.payload.items[5] }}", "row.payload.items has no index 5 (it has 2 items)"),
        ("{{ row.payload.price }}", "row.payload has no field 'price'"),
        ("{{ row.label.x }}", "row.label is str, not an object"),
        ("{{ row.label[0] }}", "row.label is str, not a list"),
        ("{{ row.payload.items.sku }}", "row.payload.items is list, not an object"),
        ('{{ row["no such"] }}', "row has no column 'no such'"),
    ],
)
def test_a_missing_value_at_render_time_is_a_template_error(value: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render(value)
    assert str(caught.value) == message


def test_a_row_placeholder_without_a_feed_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match=r"^row is not set \(the service has no data feed\)$"):
        render({"a": "{{ row.amount }}"}, {"row": None, "vars": {}, "id": "1"})


def test_describe_names_a_lone_reference_and_quotes_anything_else() -> None:
    assert Template.compile("{{ row.label }}", WHERE).describe() == "row.label"
    assert Template.compile("{{row['col with spaces']}}", WHERE).describe() == 'row["col with spaces"]'
    assert Template.compile("{{ vars.order.id }}", WHERE).describe() == "vars.order.id"
    assert Template.compile("normal", WHERE).describe() == '"normal"'
    assert Template.compile(200, WHERE).describe() == "200"
    assert Template.compile("id-{{ id }}", WHERE).describe() == '"id-{{ id }}"'


def test_parse_steps_reads_names_indexes_and_escaped_quotes() -> None:
    assert parse_steps('.a[0]["b \\"c\\""][-2]') == ("a", 0, 'b "c"', -2)
    assert parse_steps("") == ()
    with pytest.raises(ValueError, match="cannot read"):
        parse_steps(".a.[0]")


def test_rendering_a_five_placeholder_body_is_cheap() -> None:
    template = Template.compile(
        {
            "user": "{{ vars.token }}",
            "amount": "{{ row.amount }}",
            "request_id": "{{ id }}",
            "path": "/orders/{{ row.count }}/lines",
            "sku": "{{ row.payload.items[0].sku }}",
            "currency": "EUR",
        },
        WHERE,
    )
    started = time.perf_counter()
    for _ in range(20_000):
        body = template.render(CONTEXT)
    assert time.perf_counter() - started < 2.0
    assert body == {"user": "tok-9", "amount": 12.5, "request_id": "payments-42", "path": "/orders/3/lines",
                    "sku": "A-1", "currency": "EUR"}  # fmt: skip
