"""The one intake: every flow's input checked by its model, errors naming the field."""

from __future__ import annotations

import pytest

from orchestrator.flows import FLOWS
from orchestrator.flows.onautomate_opportunity import OpportunityRequest
from orchestrator.intake import InvalidInput
from orchestrator.intake.core import parse_start

OPPORTUNITY = {"title": "First Opp", "stageId": "7915dedc", "status": "open",
               "email": "elon@musk.com"}  # fmt: skip
ONLY_ZOHO = {"zoho.sale": FLOWS["zoho.sale"]}


def parse(flow, body, flows=FLOWS):
    return parse_start(flows, FLOWS, flow, body, where="input.")


def refusal(flow, body, flows=FLOWS) -> tuple[str, str]:
    with pytest.raises(InvalidInput) as caught:
        parse(flow, body, flows)
    return caught.value.field, caught.value.message


def test_a_valid_opportunity_becomes_the_flow_input_with_its_subject():
    parsed = parse("onautomate.opportunity", {**OPPORTUNITY, "monetaryValue": 122.22,
                                              "tags": ["a"], "finalStatus": "won"})  # fmt: skip
    assert parsed.flow == "onautomate.opportunity" and parsed.subject == "elon@musk.com"
    assert isinstance(parsed.input, OpportunityRequest)
    assert parsed.input.new.title == "First Opp" and parsed.input.final_status == "won"
    assert str(parsed.input.new.monetary_value) == "122.22"


def test_the_same_input_in_another_key_order_has_the_same_digest():
    reordered = dict(reversed(list(OPPORTUNITY.items())))
    assert (
        parse("onautomate.opportunity", OPPORTUNITY).digest
        == parse("onautomate.opportunity", reordered).digest
    )


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({k: v for k, v in OPPORTUNITY.items() if k != "title"}, "input.title",
         "input.title is required"),
        ({**OPPORTUNITY, "status": "closed"}, "input.status",
         "input.status must be one of: open, won, lost or abandoned"),
        ({**OPPORTUNITY, "finalStatus": "done"}, "input.finalStatus",
         "input.finalStatus must be one of: open, won, lost or abandoned"),
        ({**OPPORTUNITY, "monetaryValue": "lots"}, "input.monetaryValue",
         "input.monetaryValue must be a number"),
        ({**OPPORTUNITY, "email": "not-mail"}, "input.email",
         "input.email must be an e-mail address"),
        ({**OPPORTUNITY, "titel": "typo"}, "input.titel",
         "input.titel is not a field of this flow's input"),
        ({**OPPORTUNITY, "tags": "a"}, "input.tags", "input.tags must be an array"),
        ({"title": "T", "stageId": "S", "status": "open"}, "input",
         "input must name a contact: contactId or email (or phone when both are empty)"),
    ],
)  # fmt: skip
def test_a_bad_opportunity_input_names_the_field(body, field, message):
    assert refusal("onautomate.opportunity", body) == (field, message)


def test_an_unknown_flow_names_the_flows_there_are():
    field, message = refusal("hubspot.deal", {})
    assert field == "flow"
    assert message == ("flow must be one of: onautomate.opportunity, poologics.opportunity, "
                       "rpccrm.opportunity_ticket, zoho.sale "
                       "(got 'hubspot.deal')")  # fmt: skip


def test_a_known_flow_whose_backend_is_off_says_so():
    assert refusal("onautomate.opportunity", OPPORTUNITY, ONLY_ZOHO) == (
        "flow",
        "flow onautomate.opportunity is not available on this service: its backend onautomate "
        "is not configured",
    )


def test_input_must_be_an_object():
    assert refusal("zoho.sale", ["x"]) == ("input", "input must be a JSON object")


def test_the_zoho_sale_keeps_the_plg_api_messages():
    field, message = refusal("zoho.sale", {"contactId": "C1", "products": []})
    assert (field, message) == (
        "input.products",
        "input.products must contain at least one product",
    )


class NoDefaultPipeline:
    """An adapter of a service without ONAUTOMATE_PIPELINE_ID."""

    def pipeline_for(self, new):
        return new.pipeline_id or None


def test_an_input_without_a_pipeline_is_refused_when_the_service_has_no_default():
    from orchestrator.intake import Intake

    intake = Intake(None, None, FLOWS, FLOWS, lambda *_: None,  # type: ignore[arg-type]
                    {"onautomate.opportunity": NoDefaultPipeline()})  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        intake.parse("onautomate.opportunity", OPPORTUNITY)
    assert (refused.value.field, refused.value.message) == (
        "input.pipelineId",
        "input.pipelineId is required: this service has no default pipeline",
    )
    parsed = intake.parse("onautomate.opportunity", {**OPPORTUNITY, "pipelineId": "P-1"})
    assert parsed.input.new.pipeline_id == "P-1"


@pytest.mark.parametrize("spelling", [1000, 1000.0, 1e3, 1000.00])
def test_one_amount_spelled_differently_is_one_input(spelling):
    plain = parse("onautomate.opportunity", {**OPPORTUNITY, "monetaryValue": 1000})
    other = parse("onautomate.opportunity", {**OPPORTUNITY, "monetaryValue": spelling})
    assert other.digest == plain.digest
    assert str(other.input.new.monetary_value) == "1000.00"


@pytest.mark.parametrize("value", ["12.5", True, [1]])
def test_an_amount_must_be_a_json_number(value):
    assert refusal("onautomate.opportunity", {**OPPORTUNITY, "monetaryValue": value}) == (
        "input.monetaryValue", "input.monetaryValue must be a number")  # fmt: skip


@pytest.mark.parametrize(
    ("value", "message"),
    [(1.7458539792304064e308, "must be at most 9999999999999"),  # schemathesis found a 500
     (10**30, "must be at most 9999999999999"),
     (9_999_999_999_999.5, "must be at most 9999999999999"),
     (-1e308, "must not be negative"), (-5, "must not be negative")],
)  # fmt: skip
def test_an_amount_out_of_range_is_refused_by_name(value, message):
    body = {**OPPORTUNITY, "monetaryValue": value}
    assert refusal("onautomate.opportunity", body) == (
        "input.monetaryValue", f"input.monetaryValue {message}")  # fmt: skip


def test_the_largest_amount_is_taken():
    parsed = parse("onautomate.opportunity", {**OPPORTUNITY, "monetaryValue": 9_999_999_999_999})
    assert str(parsed.input.new.monetary_value) == "9999999999999.00"


def test_an_amount_finer_than_a_cent_is_refused_not_rounded():
    message = "input.monetaryValue must be a number with at most 2 decimal places"
    body = {**OPPORTUNITY, "monetaryValue": 10.001}
    assert refusal("onautomate.opportunity", body) == ("input.monetaryValue", message)


TICKET_SALE = {
    "contactEmail": "ana@example.com", "title": "Refit", "stageId": 5,
    "estimatedEndAt": "2027-01-31", "ticket": {"title": "Install", "priorityId": 1},
    "products": [{"productId": 7, "amount": 2, "discount": 0.1, "tax": 0.16}],
}  # fmt: skip


@pytest.mark.parametrize(
    ("value", "message"),
    [(1e308, "must be a number from 0 to 1"), (-1e308, "must be a number from 0 to 1"),
     (1.5, "must be a number from 0 to 1"),
     (0.12345, "must be a number from 0 to 1 with at most 4 decimal places")],
)  # fmt: skip
def test_a_discount_out_of_range_is_refused_by_name(value, message):
    assert parse("rpccrm.opportunity_ticket", TICKET_SALE).flow == "rpccrm.opportunity_ticket"
    line = {**TICKET_SALE["products"][0], "discount": value}
    body = {**TICKET_SALE, "products": [line]}
    field = "input.products[0].discount"
    assert refusal("rpccrm.opportunity_ticket", body) == (field, f"{field} {message}")
