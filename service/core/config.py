"""The one settings object: limits, default tolerances and threads, read from the environment.

Every field can be set as `GRADIENT_SERVICE_<FIELD>` (e.g. `GRADIENT_SERVICE_MAX_BATCH=64`).
"""

from functools import lru_cache

from pydantic import Field, PositiveFloat, PositiveInt, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRADIENT_SERVICE_", extra="forbid", frozen=True)

    # Limits: each violation is a 4xx that names the limit, its value and what was asked.
    # Parsing costs up to ~13 bytes of memory per body byte (a body of `0,` becomes a Python
    # list, then a float64 array): the worst 16 MiB body takes +212 MiB (README), and 16 MiB
    # admits a 784-256-256-10 network with float64 weights and a batch of 512 (13.7 MiB).
    max_body_bytes: PositiveInt = Field(16 * 1024 * 1024, description="largest request body")
    body_timeout: PositiveFloat = Field(
        30.0, description="seconds for the whole body to arrive once the headers have"
    )
    max_header_bytes: PositiveInt = Field(
        64 * 1024, description="largest request line and headers (a 431), with `serve`"
    )
    header_timeout: PositiveFloat = Field(
        10.0, description="seconds for the headers to arrive (a 408), with `serve`"
    )
    send_timeout: PositiveFloat = Field(
        30.0,
        description="seconds a client may leave its answer unread before it is dropped, "
        "with `serve`",
    )
    shutdown_grace: PositiveFloat = Field(
        10.0,
        description="seconds a graceful shutdown waits for requests in flight (a /train "
        "stream ends at once, with a last line), with `serve`",
    )
    max_layers: PositiveInt = Field(64, description="most layers in a network")
    max_width: PositiveInt = Field(4096, description="widest in_features/out_features")
    max_parameters: PositiveInt = Field(2_000_000, description="most parameters in a network")
    max_batch: PositiveInt = Field(4096, description="most samples in x")
    max_activations: PositiveInt = Field(
        4_000_000,
        description="most numbers a forward pass holds: batch × (a sample of x and every "
        "layer's output)",
    )
    max_cost: PositiveInt = Field(
        8_000_000_000,
        description="most multiply-adds of one engine's forward and backward pass (3 × batch × "
        "a sample's forward; a convolution's is out_channels·oh·ow·in_channels·kh·kw); "
        "2-1410-1410-1 at batch 700 is 4.2e9 (about 1 s)",
    )
    max_numeric_cost: PositiveInt = Field(
        2_000_000_000,
        description="most multiply-adds the numeric engine may do (≈2–8 s on one core; "
        "784-256-256-10 at batch 1 is 1.35e9)",
    )
    max_training_cost: PositiveInt = Field(
        30_000_000_000,
        description="most work in one POST /train, in units of one sample × one parameter "
        "(~4 ns on one core: ~2 minutes); every step also costs a fixed amount (training.py)",
    )
    max_json_containers: PositiveInt = Field(
        200_000,
        description="most arrays and objects in a body, counted before it is parsed (a 413)",
    )
    max_response_bytes: PositiveInt = Field(
        64 * 1024 * 1024,
        description="largest answer, estimated from the problem before any work (a 422 that "
        "says how to ask for less)",
    )
    max_errors: PositiveInt = Field(
        25, description="most items in an error list; one more item counts the rest"
    )

    # Default tolerances for `agree`, per dtype: |engine − reference| ≤ atol + rtol·|reference|.
    float64_atol: float = Field(1e-12, ge=0)
    float64_rtol: float = Field(1e-9, ge=0)
    float32_atol: float = Field(1e-5, ge=0)
    float32_rtol: float = Field(1e-4, ge=0)

    # Problems costing more than this many multiply-adds run off the event loop. They, and
    # bodies over 64 KiB, are heavy: at most `heavy_requests` at once in a worker, each from
    # its first heavy step until its answer has been read (service.api.http.HeavyTurns).
    inline_cost: PositiveInt = 200_000
    heavy_requests: PositiveInt = 2
    # Threads for torch's intra-op pool; one per worker process, workers = cores.
    torch_threads: PositiveInt = 1

    # Security: without a key every endpoint is open; with one, all but the probes and the docs
    # need the header `X-API-Key`. CORS is off unless origins are listed (a JSON list in the env).
    api_key: SecretStr | None = Field(None, min_length=1, description="required as X-API-Key")
    cors_origins: list[str] = Field([], description="origins a browser may call the API from")


def limit_msg(what: str, asked: int, value: int, limit: str) -> str:
    """How every refusal over a limit reads: what was asked, the limit, its setting."""
    return f"{what} is {asked:,}, above the limit of {value:,} (GRADIENT_SERVICE_{limit.upper()})"


@lru_cache
def get_settings() -> Settings:
    return Settings()
