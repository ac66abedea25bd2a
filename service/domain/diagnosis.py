"""Name the bug: which classic backprop mistake reproduces a candidate's wrong gradients.

Every hypothesis is tested against the numbers, never guessed from a pattern: the gradients are
recomputed under the mistake (the backward pass rerun with one layer's step changed, or one
quantity transformed) and the mistake is named only if it reproduces what the candidate sent,
entry by entry, within the check's tolerance. Most specific first:

1. mistakes in the backward pass, each at one layer (they spoil every gradient below it):
   `wrong_activation_derivative`, `backprop_not_transposed`, `wrong_layer_input`, and batch or
   layer norm's classic ones (the statistics taken as constants, a term left out), named as
   `error_enters_at` that layer;
2. one mistake across every gradient: a constant `factor`, `batch_mean`;
3. one quantity at a time: `transpose`, `not_summed_over_batch`, `single_sample`, `swapped`,
   `zero`, `precision`, `entries`;
4. what is left: `error_enters_at`, the layer below which the gradients are wrong — exactly the
   first wrong step when the candidate sends its own dL/d(output) per layer (its `trace`).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.core.exceptions import ErrorItem, InvalidRequest
from service.domain.compare import Tolerance, factor_of, within
from service.domain.network import shape_text
from service.engines import Problem, manual
from service.engines.layers import Activation, Layer, sequence
from service.engines.layers.linear import Linear
from service.engines.layers.normalization import Normalised, backward_terms
from service.schemas.arrays import Ragged
from service.schemas.models import CandidateStep
from service.schemas.values import Diagnosis

Array = np.ndarray
Grads = dict[str, Array]
# A layer's backward step, replaced: (dL/d(output), the step) → (dL/d(input), its gradients)
Backward = Callable[[Array, sequence.Step], tuple[Array, dict[str, Array]]]

Derivative = Callable[[Array, Array], Array]  # f' from z and a = f(z), as a student wrote it
MAX_SAMPLES_TRIED = 256  # `single_sample` recomputes every sample's gradients alone
FEW_ENTRIES = 3  # `entries`: at most this many wrong (or 5% of the quantity, whichever is more)
FLOAT32 = Tolerance(atol=1e-5, rtol=1e-4)  # agreement to float32's rounding


@dataclass(frozen=True)
class Case:
    """What a diagnosis works from: the problem, the reference's gradients (batch first) and the
    candidate's (as sent; None where missing or not an array), and which of them are wrong."""

    problem: Problem
    reference: Grads
    candidate: Mapping[str, Array | None]
    wrong: list[str]  # parameter names (and "input_gradient"), in state_dict order
    tol: Tolerance
    trace: list[dict[str, Any]] | None = None  # the candidate's own backward pass (trace_steps)

    @property
    def batch(self) -> int:
        return int(self.problem.x.shape[0])


def sent(case: Case) -> list[str]:
    """The quantities the candidate sent as arrays, in state_dict order."""
    return [n for n in case.reference if case.candidate.get(n) is not None]


def close(got: Array | None, expected: Array, tol: Tolerance) -> bool:
    if got is None or np.shape(got) != np.shape(expected):
        return False
    return bool(np.all(within(got, expected, tol)))


def names(params: list[str]) -> str:
    return ", ".join(params)


def are(params: list[str]) -> str:
    """The names and their verb: "0.bias is", "0.weight, 0.bias are"."""
    return f"{names(params)} {'is' if len(params) == 1 else 'are'}"


def layer_of(name: str) -> int | None:
    head = name.split(".")[0]
    return int(head) if head.isdigit() else None


# --- the backward pass, rerun with one step changed ---------------------------------------------


def backward(
    case: Case, tape: list[sequence.Step], grad: Array, at: list[int], step: Backward
) -> Grads:
    """Every gradient, with the backward step of the layers `at` replaced by `step`."""
    found: Grads = {}
    for s in reversed(tape):
        grad, own = step(grad, s) if s.index in at else s.layer.backward(grad, s.cache)
        found |= {f"{s.index}.{name}": g for name, g in own.items()}
    found["input_gradient"] = grad
    return {name: found[name] for name in case.reference}


def reproduces(case: Case, mutated: Grads) -> list[str] | None:
    """The quantities the mutation changes, if it reproduces the candidate on every quantity
    sent (and changes at least one); else None."""
    changed = [n for n in case.reference if not close(mutated[n], case.reference[n], case.tol)]
    if not changed or not set(case.wrong) <= set(changed):
        return None
    given = sent(case)
    same = all(close(case.candidate[n], mutated[n], case.tol) for n in given)
    return [n for n in changed if n in given] if same else None


def activation_mistakes(layer: Activation) -> list[tuple[str, Derivative]]:
    """(what the student did, f' as they computed it from z and a = f(z))."""
    found: list[tuple[str, Derivative]] = [
        ("left out: dL/dz was set to dL/da", lambda z, a: np.ones_like(z)),
        (
            "evaluated at its output, f'(a) instead of f'(z)",
            lambda z, a: layer.df(a, layer.f(a)),
        ),
    ]
    if layer.kind == "sigmoid":
        found.append(("taken as σ(z) instead of σ(z)(1 − σ(z))", lambda z, a: a))
    if layer.kind == "tanh":
        found.append(("taken as 1 − z² instead of 1 − tanh²(z)", lambda z, a: 1 - z * z))
    return found


NormBackward = Callable[[Array, Normalised], Array]


def as_constants(grad: Array, cache: Normalised) -> Array:
    d, _, _, _ = backward_terms(grad, cache)
    return d * cache.inv_std


def without_variance(grad: Array, cache: Normalised) -> Array:
    d, total, _, m = backward_terms(grad, cache)
    return (m * d - total) * cache.inv_std / m


def without_mean(grad: Array, cache: Normalised) -> Array:
    d, _, along, m = backward_terms(grad, cache)
    return (m * d - cache.x_hat * along) * cache.inv_std / m


NORMALISATION_MISTAKES: list[tuple[str, NormBackward]] = [
    ("treated the mean and variance as constants (dL/dx = γ·dL/dy / σ)", as_constants),
    ("left out the variance's term, Σ(d·x̂)·x̂", without_variance),
    ("left out the mean's term, Σd", without_mean),
]


DERIVATIVE_FORMULA = {
    "sigmoid": "σ(z)(1 − σ(z))",
    "tanh": "1 − tanh²(z)",
    "relu": "1 where z > 0, else 0",
}


# Each hypothesis about the backward pass reruns it: at most RERUN_COST multiply-adds in all
# (about a second), and at most MAX_RERUNS reruns, so a deep or wide network cannot hold a
# worker; the hypotheses nearest the output, which explain most, are tried first.
RERUN_COST = 2_000_000_000
MAX_RERUNS = 400


def reruns_allowed(problem: Problem) -> int:
    forward = problem.x.shape[0] * sequence.cost(problem.layers, problem.x.shape[1:])
    return max(4, min(MAX_RERUNS, RERUN_COST // max(1, 3 * forward)))


class Budget(Exception):
    """The reruns allowed are spent: the hypotheses not tried yet are not named."""


def backward_mistakes(case: Case) -> list[Diagnosis]:
    """A mistake at one layer of the backward pass that reproduces the candidate."""
    p = case.problem
    params = {**p.weights, **p.draws}
    left = [reruns_allowed(p)]

    def rerun(at: list[int], step: Backward) -> Grads:
        if left[0] <= 0:
            raise Budget
        left[0] -= 1
        return backward(case, tape, grad, at, step)

    with np.errstate(all="ignore"):
        tape = sequence.forward(p.layers, params, p.x)
        grad = p.loss.value_and_gradient(tape[-1].output, p.y)[1]
        try:
            for s in reversed(tape):  # the mistakes nearest the output first: they explain most
                for diagnosis in mistakes_at(case, tape, s, rerun):
                    return [diagnosis]
        except Budget:
            pass
    return []


Rerun = Callable[[list[int], Backward], Grads]


def mistakes_at(
    case: Case, tape: list[sequence.Step], s: sequence.Step, rerun: Rerun
) -> list[Diagnosis]:
    layer, k = s.layer, s.index
    if isinstance(layer, Activation) and layer.elementwise:
        alike = [t.index for t in tape if t.index <= k and t.layer == layer]
        for what, derivative in activation_mistakes(layer):

            def step(g: Array, s: sequence.Step, d: Derivative = derivative) -> Any:
                z, a = s.cache
                return g * d(z, a), {}

            for at in ([k], alike) if len(alike) > 1 else ([k],):  # this layer; every such one
                changed = reproduces(case, rerun(at, step))
                if changed:
                    right = [n for n in sent(case) if n not in changed]
                    formula = DERIVATIVE_FORMULA.get(layer.kind, f"{layer.kind}'(z)")
                    above = f"{are(right)} right and " if right else ""
                    where = (
                        f"layer {k}"
                        if len(at) == 1
                        else (f"every {layer.kind} layer ({', '.join(map(str, sorted(at)))})")
                    )
                    msg = (f"{above}{are(changed)} wrong: the {layer.kind} derivative at {where} "
                           f"was {what}; it is {formula}.")  # fmt: skip
                    return [Diagnosis("wrong_activation_derivative", changed, k, msg)]
    if isinstance(s.cache, Normalised):
        for what, normalised in NORMALISATION_MISTAKES:

            def norm_step(g: Array, s: sequence.Step, n: NormBackward = normalised) -> Any:
                own = s.layer.backward(g, s.cache)[1]
                return n(g, s.cache), own

            changed = reproduces(case, rerun([k], norm_step))
            if changed:
                msg = (f"{are(changed)} wrong: the backward pass through {layer.kind} at layer "
                       f"{k} {what}. The batch's mean and variance depend on every input: "
                       "dL/dx = (m·d − Σd − x̂·Σ(d·x̂)) / (m·σ), with d = γ·dL/dy.")  # fmt: skip
                return [Diagnosis("error_enters_at", changed, k, msg)]
    if isinstance(layer, Linear):
        weight = case.problem.weights[f"{k}.weight"]
        if weight.shape[0] == weight.shape[1]:

            def not_transposed(g: Array, s: sequence.Step) -> Any:
                own = s.layer.backward(g, s.cache)[1]
                return g @ weight.T, own  # W where Wᵀ belongs: dL/d(input) = dL/dz·Wᵀ

            changed = reproduces(case, rerun([k], not_transposed))
            if changed:
                return [
                    Diagnosis(
                        "backprop_not_transposed",
                        changed,
                        k,
                        f"{are(changed)} wrong: the gradient was sent back through linear "
                        f"layer {k} with W where Wᵀ belongs; dL/d(input) = dL/dz · W for rows "
                        "of a batch, Wᵀ · dL/dz for column vectors.",
                    )
                ]
        for source, other in inputs_like(tape, s):

            def wrong_input(g: Array, s: sequence.Step, other: Array = other) -> Any:
                grad_input, own = s.layer.backward(g, s.cache)
                own = dict(own)
                own["weight"] = np.tensordot(g, other, axes=(range(g.ndim - 1), range(g.ndim - 1)))
                return grad_input, own

            changed = reproduces(case, rerun([k], wrong_input))
            if changed:
                return [
                    Diagnosis(
                        "wrong_layer_input",
                        changed,
                        k,
                        f"{names(changed)}: dW of linear layer {k} was computed with {source} "
                        f"instead of the layer's own input; dW = dL/dzᵀ · input.",
                    )
                ]
    return []


NEARBY = 2  # layers either side whose values a student might take for a layer's input


def inputs_like(tape: list[sequence.Step], s: sequence.Step) -> list[tuple[str, Array]]:
    """The values a student might take for linear layer s's input by mistake: the previous
    activation's input (the pre-activation), or any other layer's input or output of its shape."""
    found: list[tuple[str, Array]] = []
    if s.index > 0 and isinstance(tape[s.index - 1].layer, Activation):
        before = tape[s.index - 1]
        found.append((f"the pre-activation z of layer {before.index} (before the "
                      f"{before.layer.kind})", before.input))  # fmt: skip
    for t in tape[max(0, s.index - NEARBY) : s.index + NEARBY + 1]:  # a neighbour's, by slip
        for value, what in ((t.input, "input"), (t.output, "output")):
            if t.index == s.index and what == "input":
                continue
            new = value.shape == s.input.shape and not any(value is v for _, v in found)
            if new and not np.array_equal(value, s.input):
                found.append((f"the {what} of layer {t.index} ({t.layer.kind})", value))
    return found


# --- one mistake across every gradient ----------------------------------------------------------


def common_factor(case: Case) -> list[Diagnosis]:
    """Every wrong gradient is c × the reference, for one c."""
    given = [n for n in case.wrong if case.candidate.get(n) is not None]
    if len(given) < 2:
        return []
    first, expected = case.candidate[given[0]], case.reference[given[0]]
    c = factor_of(first, expected) if first is not None and first.shape == expected.shape else None
    if c is None or not all(
        close(case.candidate[n], c * case.reference[n], case.tol) for n in given
    ):
        return []
    right = [n for n in sent(case) if n not in given]
    if any(not close(c * case.reference[n], case.reference[n], case.tol) for n in right):
        return []  # a factor on dL/dp spoils every gradient; here some are right
    return [factor_diagnosis(case, given, c, None)]


def factor_diagnosis(case: Case, params: list[str], c: float, layer: int | None) -> Diagnosis:
    batch = case.batch
    if batch > 1 and abs(c - batch) <= 1e-6 * batch:
        msg = (f"{are(params)} {batch} times the expected values: the loss averages over the "
               f"batch of {batch}; divide the summed gradient by the batch size.")  # fmt: skip
        return Diagnosis("batch_mean", params, layer, msg)
    if batch > 1 and abs(c - 1 / batch) <= 1e-6 / batch:
        msg = (f"{are(params)} the expected values divided by {batch}: this loss sums over the "
               "batch; do not average.")  # fmt: skip
        return Diagnosis("batch_mean", params, layer, msg)
    named = {
        2.0: "is the 2 of d(p − y)²/dp applied twice?",
        0.5: "the derivative of (p − y)² is 2(p − y)",
        -1.0: "the sign is flipped: it is p − y, not y − p",
    }
    why = next((text for value, text in named.items() if abs(c - value) <= 1e-6), "")
    return Diagnosis(
        "factor",
        params,
        layer,
        f"{are(params)} off by a constant factor of {c:.6g}" + (f": {why}" if why else "."),
    )


# --- one quantity at a time ---------------------------------------------------------------------


def per_sample(case: Case) -> list[Grads]:
    """Each sample's gradients alone, as for a batch of one (and the loss's scaling of them)."""
    p = case.problem
    found = []
    for b in range(case.batch):
        one = Problem(p.layers, p.weights, p.x[b : b + 1], p.y[b : b + 1], p.loss, None,
                      {k: v[b : b + 1] for k, v in p.draws.items()})  # fmt: skip
        result = manual.run(one)
        found.append({**result.gradients, "input_gradient": result.input_gradient})
    return found


def one_quantity(case: Case, name: str, samples: Callable[[], list[Grads]]) -> Diagnosis | None:
    got, want = case.candidate.get(name), case.reference[name]
    layer = layer_of(name)
    if got is None:
        return None
    if got.ndim == 2 and got.shape == want.T.shape and close(got.T, want, case.tol):
        square = " (square: the shape does not show it)" if want.shape[0] == want.shape[1] else ""
        return Diagnosis("transpose", [name], layer, f"{name} is the transpose of the expected "
                         f"gradient{square}: a weight's gradient is out × in like the weight, "
                         "dL/dzᵀ · input.")  # fmt: skip
    per_sample_shape = (case.batch, *want.shape)
    if case.batch > 1 and got.shape == per_sample_shape and close(got.sum(0), want, case.tol):
        return Diagnosis("not_summed_over_batch", [name], layer, f"{name} holds one gradient per "
                         f"sample ({list(got.shape)}) whose sum is right: sum over the batch "
                         f"axis to get {list(want.shape)}.")  # fmt: skip
    if got.shape != want.shape:
        return None
    if not np.any(got) and np.any(want):
        return Diagnosis("zero", [name], layer, f"{name} is all zeros: it was never computed, or "
                         "never assigned to the array that was returned.")  # fmt: skip
    for other in case.reference:
        if other != name and close(got, case.reference[other], case.tol):
            return Diagnosis("swapped", [name, other], layer, f"{name} holds what belongs to "
                             f"{other}: the two were swapped or mislabelled.")  # fmt: skip
    c = factor_of(got, want)
    named = c is not None and any(
        abs(c - k) <= 1e-6 * abs(k) for k in (2.0, 0.5, -1.0, case.batch, 1 / case.batch)
    )
    big_enough = want.size >= 3 or (named and want.size >= 2)  # else any c fits by chance
    if c is not None and big_enough and close(got, c * want, case.tol):
        return factor_diagnosis(case, [name], c, layer)
    if 1 < case.batch <= MAX_SAMPLES_TRIED and name != "input_gradient":
        for b, grads in enumerate(samples()):
            for scale in (1.0, 1.0 / case.batch):
                if close(got, scale * grads[name], case.tol):
                    msg = (f"{are([name])} the gradient of sample {b} alone, not of the batch "
                           f"of {case.batch}: accumulate every sample's.")  # fmt: skip
                    return Diagnosis("single_sample", [name], layer, msg)
    if close(got, want, FLOAT32):
        msg = (f"{are([name])} right only to float32's rounding (about 7 digits): compute in "
               "float64, or check in float32.")  # fmt: skip
        return Diagnosis("precision", [name], layer, msg)
    with np.errstate(over="ignore", invalid="ignore"):
        off = np.abs(got - want) > case.tol.atol + case.tol.rtol * np.abs(want)
    wrong = np.argwhere(off)
    if len(wrong) <= max(FEW_ENTRIES, want.size // 20) and len(wrong) < want.size:
        where = ", ".join(str(list(map(int, i))) for i in wrong[:FEW_ENTRIES])
        more = f" and {len(wrong) - FEW_ENTRIES} more" if len(wrong) > FEW_ENTRIES else ""
        entries = "entry" if len(wrong) == 1 else "entries"
        msg = f"{name} is right but for {len(wrong)} {entries} ({where}{more}): an index slip?"
        return Diagnosis("entries", [name], layer, msg)
    return None


# --- what is left: where the error enters -------------------------------------------------------


def enters_at(case: Case, left: list[str]) -> list[Diagnosis]:
    """The layer below which the gradients are wrong (from the trace, exactly, when sent)."""
    if case.trace:
        exact = first_wrong_step(case)
        if exact is not None:
            return [exact]
    layers = sorted({index for n in left if (index := layer_of(n)) is not None})
    if not layers:
        return []
    top = layers[-1]
    right = [n for n in sent(case) if n not in case.wrong and (layer_of(n) or -1) > top]
    above = f"{are(right)} right, so the error enters" if right else "The error enters"
    msg = (f"{above} at layer {top} or between it and the next layer with parameters: "
           f"{are(left)} wrong. Send your dL/d(output) per layer (`trace`) to find the exact "
           "step.")  # fmt: skip
    return [Diagnosis("error_enters_at", left, top, msg)]


TRACE_NAMES = {  # the trace's names for dL/d(output) and dL/d(input), by kind of layer
    "linear": ("grad_z", "grad_input"),
    "activation": ("grad_a", "grad_z"),
    "other": ("grad_output", "grad_input"),
}


def kind_of(layer: Layer) -> str:
    if isinstance(layer, Linear):
        return "linear"
    return "activation" if layer.elementwise else "other"


def trace_steps(steps: list[CandidateStep], problem: Problem, single: bool) -> list[dict[str, Any]]:
    """A candidate's own backward pass as {"index", "grad_output", "grad_input"} (batch first),
    each value checked against its layer: a 422 naming the field when it does not fit."""
    errors = []
    found = []
    with np.errstate(all="ignore"):
        tape = sequence.forward(problem.layers, {**problem.weights, **problem.draws}, problem.x)
    for i, step in enumerate(steps):
        loc = ("body", "candidate", "trace", i)
        if step.index >= len(tape):
            errors.append(ErrorItem((*loc, "index"), f"the network has {len(tape)} layers, "
                                    f"0 to {len(tape) - 1}", "out_of_range"))  # fmt: skip
            continue
        s = tape[step.index]
        out_name, in_name = TRACE_NAMES[kind_of(s.layer)]
        given: dict[str, Any] = {"index": step.index}
        sent = (("grad_output", step.grad_output), ("grad_input", step.grad_input),
                ("grad_z", step.grad_z), ("grad_a", step.grad_a))  # fmt: skip
        for name, value in sent:
            if value is None:
                continue
            if name not in ("grad_output", "grad_input", out_name, in_name):
                msg = f"layer {step.index} ({s.layer.kind}) has {out_name} and {in_name}"
                errors.append(ErrorItem((*loc, name), msg, "unexpected_field"))
                continue
            role = "grad_output" if name in ("grad_output", out_name) else "grad_input"
            want = s.output if role == "grad_output" else s.input
            if isinstance(value, Ragged) or np.size(value) != want.size:
                shape = want.shape[1:] if single else want.shape
                msg = f"expected {want.size} numbers shaped {shape_text(shape)}"
                errors.append(ErrorItem((*loc, name), msg, "wrong_shape"))
                continue
            given[role] = np.asarray(value, dtype=np.float64).reshape(want.shape)
        found.append(given)
    if errors:
        raise InvalidRequest(errors)
    return found


def first_wrong_step(case: Case) -> Diagnosis | None:
    """From the output back, the first layer whose dL/d(output) or dL/d(input), as the candidate
    sent it, differs from the reference's."""
    p = case.problem
    params = {**p.weights, **p.draws}
    with np.errstate(all="ignore"):
        tape = sequence.forward(p.layers, params, p.x)
        grad = p.loss.value_and_gradient(tape[-1].output, p.y)[1]
        _, flowing = sequence.backward(tape, grad)
    given = {int(step["index"]): step for step in case.trace or []}
    for s in reversed(tape):
        step = given.get(s.index)
        if step is None:
            continue
        for key, value, what in (("grad_output", flowing[s.index + 1], "dL/d(output)"),
                                 ("grad_input", flowing[s.index], "dL/d(input)")):  # fmt: skip
            got = step.get(key)
            if got is not None and not close(got, value, case.tol):
                names_ = TRACE_NAMES[kind_of(s.layer)]
                called = names_[0] if key == "grad_output" else names_[1]
                msg = (f"The first wrong step of your backward pass is {what} ({called}) of "
                       f"layer {s.index} ({s.layer.kind}): the steps after it in the pass are "
                       "wrong, the ones before it right.")  # fmt: skip
                return Diagnosis("error_enters_at", list(case.wrong), s.index, msg)
    return None


def diagnose(case: Case) -> list[Diagnosis]:
    """Most specific first; nothing for a right candidate."""
    if not case.wrong:
        return []
    found = backward_mistakes(case) or common_factor(case)
    explained = {n for d in found for n in d.parameters}
    cached: list[Grads] = []

    def samples() -> list[Grads]:
        if not cached:
            cached.extend(per_sample(case))
        return cached

    left = []
    for name in case.wrong:
        if name in explained:
            continue
        one = one_quantity(case, name, samples)
        if one is None:
            left.append(name)
        else:
            found.append(one)
            explained |= set(one.parameters)
    found = merged(found)
    if left:
        found += enters_at(case, left)
    return found


# Found per quantity, but one habit for them all: merged into one diagnosis (and one bug).
ONE_CAUSE = ("precision", "single_sample", "not_summed_over_batch")


def merged(found: list[Diagnosis]) -> list[Diagnosis]:
    """Diagnoses of a kind in ONE_CAUSE as one, naming every quantity (and sample) they cover."""
    out: list[Diagnosis] = []
    for d in found:
        same = next((o for o in out if o.kind == d.kind and d.kind in ONE_CAUSE), None)
        if same is None:
            out.append(d)
            continue
        params = [*same.parameters, *d.parameters]
        msg = same.message.replace(are(same.parameters), are(params), 1)  # it starts with them
        out[out.index(same)] = Diagnosis(d.kind, params, None, msg)
    return out
