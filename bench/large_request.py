"""Section c: a ~6 MB 784-256-256-10 request end to end, against orjson on the same bytes.

The baseline is what any JSON service has to do with that traffic at least: `orjson.loads` of the
request body plus `orjson.dumps` of the response, decoded, both in-process.
"""

import http.client

import orjson

from bench.problems import MLP, NETWORKS, base64_request_body, request_body
from bench.report import Row, Section, Target, megabytes, seconds
from bench.server import HOST, on_load_cpu, placement
from bench.timing import Budget, median_seconds

BATCH = 64
END_TO_END = Target("≤", 2.0)


def run(port: int, budget: Budget) -> Section:
    body = orjson.dumps(request_body(NETWORKS[MLP], BATCH))
    compact = orjson.dumps(base64_request_body(NETWORKS[MLP], BATCH))
    connection = http.client.HTTPConnection(HOST, port, timeout=120)

    def post(content: bytes = body) -> bytes:
        connection.request("POST", "/gradients", content, {"Content-Type": "application/json"})
        response = connection.getresponse()
        content = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST /gradients answered {response.status}: {content[:500]!r}")
        return content

    def round_trip() -> None:
        orjson.loads(body)
        orjson.dumps(decoded)

    try:
        with on_load_cpu():
            answer = post()
            decoded = orjson.loads(answer)
            compact_answer = post(compact)
            t = median_seconds(
                {"http": post, "orjson": round_trip, "base64": lambda: post(compact)}, budget
            )
    finally:
        connection.close()
    section = Section(
        f"c. one {MLP} request, batch {BATCH}, float64, explicit weights "
        f"({megabytes(len(body))} in, {megabytes(len(answer))} out)"
    )
    section.rows.append(
        Row(
            "end to end ÷ orjson loads(request) + dumps(response)",
            f"POST /gradients {seconds(t['http'])}",
            f"orjson {seconds(t['orjson'])}",
            t["http"] / t["orjson"],
            END_TO_END,
        )
    )
    section.rows.append(
        Row(
            f"the same with base64 tensors both ways ({megabytes(len(compact))} in, "
            f"{megabytes(len(compact_answer))} out) ÷ JSON lists",
            f"base64 {seconds(t['base64'])}",
            f"JSON {seconds(t['http'])}",
            t["base64"] / t["http"],
            None,
        )
    )
    section.notes.append(f"one request at a time over one keep-alive connection; {placement()}")
    return section
