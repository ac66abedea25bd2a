"""service.domain.training: the autograd run is a plain torch training loop, step for step and
bit for bit; the manual engine keeps its own weights; leaving tolerance and diverging are
reported."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from service.core import seed
from service.core.config import Settings
from service.core.exceptions import InvalidRequest
from service.domain import training
from service.domain.datasets import seed_dataset
from service.domain.training import ENGINES, Diverged, Trainer, prepare_training
from service.engines import Problem, manual
from service.schemas.models import TrainRequest
from service.schemas.values import EpochReport
from tests.nets import torch_sequential
from tests.test_architecture import SERVICE, imported_modules

TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def trainer(**request: Any) -> Trainer:
    return Trainer(prepare_training(TrainRequest.model_validate(request), Settings()))


def torch_loop(
    dtype: str, epochs: int, batch_size: int, shuffle_seed: int | None
) -> list[tuple[float, dict[str, np.ndarray]]]:
    """The assignment's training written the torch way: nn.Sequential, torch.optim.SGD, the seed's
    data set in the documented order. Each step's loss and the weights after it."""
    torch.manual_seed(0)
    net = torch_sequential(seed.LAYERS).to(TORCH_DTYPES[dtype])
    x, y = (torch.from_numpy(a).to(TORCH_DTYPES[dtype]) for a in seed_dataset(100, 0, 0.0, 1.0))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
    loss_fn = torch.nn.MSELoss(reduction="sum")
    shuffler = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
    steps = []
    for _ in range(epochs):
        order = (
            torch.arange(100) if shuffler is None else torch.from_numpy(shuffler.permutation(100))
        )
        for batch in order.split(batch_size):
            optimizer.zero_grad()
            loss = loss_fn(net(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
            weights = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
            steps.append((loss.item(), weights))
    return steps


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("batch_size", "shuffle_seed"), [(1, None), (7, 3)])
def test_autograd_run_is_a_plain_torch_loop_bit_for_bit(
    dtype: str, batch_size: int, shuffle_seed: int | None
) -> None:
    epochs = 2
    expected = torch_loop(dtype, epochs, batch_size, shuffle_seed)
    request = {"dtype": dtype, "epochs": epochs, "batch_size": batch_size}
    if shuffle_seed is not None:
        request["shuffle_seed"] = shuffle_seed

    stepped = trainer(**request)  # step by step, in the order the module documents
    p = stepped.training.problem
    shuffler = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
    taken = iter(expected)
    for _ in range(epochs):
        order = np.arange(100) if shuffler is None else shuffler.permutation(100)
        for begin in range(0, 100, batch_size):
            batch = order[begin : begin + batch_size]
            result = stepped.step(p.x[batch], p.y[batch])["autograd"]
            loss, weights = next(taken)
            assert float(result.loss) == loss
            for name, w in weights.items():
                np.testing.assert_array_equal(stepped.weights["autograd"][name], w, err_msg=name)
    assert next(taken, None) is None

    whole = trainer(**request)  # the same run, epoch by epoch
    history = [whole.run_epoch() for _ in range(epochs)]
    assert whole.done
    per_epoch = len(expected) // epochs
    for epoch in history:
        losses = [loss for loss, _ in expected[(epoch.epoch - 1) * per_epoch :][:per_epoch]]
        assert epoch.loss["autograd"] == sum(losses) / len(losses)
    for name, w in expected[-1][1].items():
        np.testing.assert_array_equal(whole.weights["autograd"][name], w, err_msg=name)


def test_the_manual_engine_follows_its_own_gradients() -> None:
    """Its weights are its own: a manual-only loop from the same start gives them exactly."""
    run = trainer(dtype="float32", epochs=2, batch_size=10)
    p = run.training.problem
    weights = dict(p.weights)
    for _ in range(2):
        for begin in range(0, 100, 10):
            x, y = p.x[begin : begin + 10], p.y[begin : begin + 10]
            step = manual.run(Problem(p.layers, weights, x, y, p.loss, 0.05))
            assert step.updated_weights is not None
            weights = step.updated_weights
    last = [run.run_epoch() for _ in range(2)][-1]
    for name, w in weights.items():
        np.testing.assert_array_equal(run.weights["manual"][name], w, err_msg=name)
    assert last.weight_deviation.max_abs > 0  # float32: the two really drift apart


def test_float64_engines_stay_within_tolerance() -> None:
    run = trainer(epochs=3, shuffle_seed=0)
    history = [run.run_epoch() for _ in range(3)]
    assert run.done
    assert run.left_tolerance is None
    assert all(e.weight_deviation.agree for e in history)
    assert history[-1].weight_deviation.max_abs < 1e-14
    assert [e.step for e in history] == [100, 200, 300]
    assert run.loss_curves["autograd"] == [e.loss["autograd"] for e in history]
    assert history[-1].loss["autograd"] < history[0].loss["autograd"]  # it learns


def test_the_first_step_out_of_tolerance_is_remembered() -> None:
    run = trainer(dtype="float32", tolerance={"atol": 0, "rtol": 0}, epochs=1)
    run.run_epoch()
    left = run.left_tolerance
    assert left is not None
    assert left.epoch == 1
    assert 1 <= left.step <= 100
    assert 0 < left.max_abs < 1e-5


def test_shuffled_epochs_take_successive_permutations() -> None:
    run = trainer(shuffle_seed=42, epochs=2, data={"generator": "seed", "n": 5})
    rng = np.random.default_rng(42)
    assert run.order().tolist() == rng.permutation(5).tolist()
    assert run.order().tolist() == rng.permutation(5).tolist()
    assert trainer(data={"generator": "seed", "n": 5}).order().tolist() == [0, 1, 2, 3, 4]


def test_a_diverging_run_names_the_engine_and_the_step() -> None:
    run = trainer(learning_rate=1e30)
    with pytest.raises(Diverged) as raised:
        run.run_epoch()
    (item,) = raised.value.errors
    assert item.loc == ("body", "learning_rate")
    assert item.ctx["engine"] == "autograd"
    assert item.ctx["epoch"] == 1
    assert item.ctx["step"] >= 1
    assert "smaller learning_rate" in item.msg


def test_steps_in_blocks_are_steps_one_of_each_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each engine takes an epoch's steps in a row on a small network; with blocks of one step
    (the engines alternating) every report, weight and first step out of tolerance is the
    same, and so is the engine and step a diverging run names."""
    request: dict[str, Any] = {"dtype": "float32", "tolerance": {"atol": 0, "rtol": 0}}
    request |= {"epochs": 2, "batch_size": 3, "shuffle_seed": 1}
    in_blocks = trainer(**request)
    reports = [in_blocks.run_epoch() for _ in range(2)]
    with pytest.raises(Diverged) as block_diverged:
        trainer(learning_rate=1e30).run_epoch()
    monkeypatch.setattr(training, "BLOCK_VALUES", 1)
    alternating = trainer(**request)
    alternating_reports = [alternating.run_epoch() for _ in range(2)]
    with pytest.raises(Diverged) as step_diverged:
        trainer(learning_rate=1e30).run_epoch()

    def kept(report: EpochReport) -> tuple[Any, ...]:
        return report.epoch, report.step, report.loss, report.weight_deviation

    assert [kept(r) for r in reports] == [kept(r) for r in alternating_reports]
    assert in_blocks.left_tolerance is not None
    assert in_blocks.left_tolerance == alternating.left_tolerance
    for name in ENGINES:
        for key, w in alternating.weights[name].items():
            np.testing.assert_array_equal(in_blocks.weights[name][key], w, err_msg=key)
    assert block_diverged.value.errors == step_diverged.value.errors


def test_a_batch_larger_than_the_data_set_is_refused() -> None:
    with pytest.raises(InvalidRequest) as raised:
        trainer(batch_size=101)
    assert raised.value.errors[0].loc == ("body", "batch_size")


@pytest.mark.parametrize(
    "path",
    [SERVICE / "domain" / "training.py", SERVICE / "domain" / "datasets.py"],
    ids=lambda p: p.name,
)
def test_the_maths_knows_nothing_of_http(path: Path) -> None:
    assert not imported_modules(path) & {"fastapi", "starlette", "httpx", "uvicorn"}
