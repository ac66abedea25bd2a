"""Schemathesis fuzzes every operation of the app's own OpenAPI spec, in process over ASGI.

Every built-in check runs (not_a_server_error, status_code_conformance, content_type_conformance,
response_schema_conformance, response_headers_conformance, positive_data_acceptance,
negative_data_rejection, unsupported_method, allow_header_conformance, ignored_auth, …) over the
examples, coverage and fuzzing phases, with schema-valid and schema-invalid data, once without
and once with an API key.

One check is configured, for a documented reason: a schema-valid body may still be refused with a
422 for a rule that spans fields, which a JSON Schema cannot state (linear layers chain, weights
have the network's names and shapes, x and y fit it, sizes are within the limits, the maths stays
finite; the spec's 422 says so). So positive_data_acceptance accepts 422, and the check below
keeps that honest: such a 422 must name only those rules, never a wrong type, a bound, a missing
or an unknown field, which would mean the spec promises what the models refuse.

The examples are derandomised and bounded (about 10 s on two busy cores). For a longer, random
exploration: `FUZZ_EXAMPLES=500 pytest tests/test_fuzz.py`.
"""

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from service.api.app import create_app
from service.core.config import Settings

# The `type`s of the 422s that rules across fields give (service/problem.py, service/compute.py,
# the candidate's depth in service/models.py), and what a base64 tensor's bytes must hold.
CROSS_FIELD = frozenset(
    {
        "layers_do_not_chain", "limit_exceeded", "missing", "empty", "wrong_shape",
        "ragged_array", "overflow", "out_of_range", "not_an_integer", "conflict",
        "missing_weight", "unexpected_weight", "non_finite_result", "too_deep",
        # a base64 tensor's data must decode to exactly its shape's count of finite values
        "base64_invalid", "wrong_length", "non_finite_data",
        # a data set's bounds: low below high
        "low_not_below_high",
        # training: a batch no larger than the data set; a run that overflows; parameters
        "too_large", "no_parameters",
        # more errors than are listed
        "too_many_errors",
    }
)  # fmt: skip

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"max-examples": EXAMPLES or 25, "deterministic": not EXAMPLES},
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "422"]}},
    }
)
KEY = "fuzz-key"

open_schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(Settings()), config=CONFIG)
keyed_schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(Settings(api_key=KEY)), config=CONFIG
)


def refused_only_across_fields(ctx: Any, response: Any, case: schemathesis.Case) -> None:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    if response.status_code == 422:
        types = {item["type"] for item in response.json()["detail"]}
        assert types <= CROSS_FIELD, f"a schema-valid body was refused for {types - CROSS_FIELD}"


pytestmark = pytest.mark.slow

FUZZ_SETTINGS = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))


@open_schema.parametrize()
@FUZZ_SETTINGS
def test_every_check_passes(case: schemathesis.Case) -> None:
    case.call_and_validate(additional_checks=[refused_only_across_fields])


@keyed_schema.parametrize()
@FUZZ_SETTINGS
def test_every_check_passes_with_an_api_key(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"X-API-Key": KEY}, additional_checks=[refused_only_across_fields]
    )
