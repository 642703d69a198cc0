"""Golden values for the schedules of @optimkit/schedules that PyTorch has, from real
torch.optim.lr_scheduler / torch.optim.swa_utils (float64: param-group learning rates are Python floats).

Run from the repository root with the system Python that has PyTorch (1.13 on the build machine):

    /usr/bin/python3 tooling/torch-fixtures/schedules.py

It writes packages/schedules/src/fixtures/torch-schedules.json: for each case, the optimkit factory
and options, and the learning rate torch uses for each of the first `steps` optimizer steps
(values[t] is the rate of update t, i.e. after t calls of scheduler.step()). The factor functions of
the LambdaLR / MultiplicativeLR cases are written here in Python and registered under the same names,
with the same formulas, by packages/schedules/src/torch-fixture.test.ts. Warmup-stable-decay has no
torch class; its cases run torch's LambdaLR with the multiplier of Hugging Face's get_wsd_schedule
(transformers/optimization.py) written out below.
"""

import json
import math
import os
import warnings

import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, CyclicLR, LambdaLR, MultiplicativeLR
from torch.optim.swa_utils import SWALR

warnings.simplefilter("ignore")  # torch's "step order" and get_lr notices
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def optimizer(lr):
    return torch.optim.SGD([torch.zeros(1, dtype=torch.float64, requires_grad=True)], lr=lr)


def series(opt, steps, advance):
    """The learning rate of each update t; advance(t) runs the scheduler calls made after update t."""
    values = []
    for t in range(steps):
        values.append(opt.param_groups[0]["lr"])
        opt.step()
        advance(t)
    return values


def cyclic(options, steps):
    opt = optimizer(options["baseValue"])
    sched = CyclicLR(
        opt,
        base_lr=options["baseValue"],
        max_lr=options["maxValue"],
        step_size_up=options["stepSizeUp"],
        step_size_down=options.get("stepSizeDown"),
        mode=options.get("mode", "triangular"),
        gamma=options.get("gamma", 1.0),
        cycle_momentum=False,
    )
    return series(opt, steps, lambda t: sched.step())


def cyclic_momentum(options, steps):
    """CyclicLR's momentum (cycle_momentum=True): optimkit's cyclic from maxMomentum to baseMomentum."""
    opt = torch.optim.SGD([torch.zeros(1, dtype=torch.float64, requires_grad=True)], lr=0.01, momentum=0.5)
    sched = CyclicLR(
        opt,
        base_lr=0.001,
        max_lr=0.01,
        step_size_up=options["stepSizeUp"],
        step_size_down=options.get("stepSizeDown"),
        mode=options.get("mode", "triangular"),
        gamma=options.get("gamma", 1.0),
        base_momentum=options["maxValue"],
        max_momentum=options["baseValue"],
    )
    values = []
    for _ in range(steps):
        values.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    return values


# Factor functions, by the name under which the test registers the same formula.
FACTORS = {
    # Noam / "inverse square root" warmup: min((t + 1) / w, sqrt(w / (t + 1))).
    "noam": lambda t, o: min((t + 1) / o["warmup"], math.sqrt(o["warmup"] / (t + 1))),
    "wavy": lambda t, o: o["base"] + o["amplitude"] * math.cos(t),
    "constantRate": lambda t, o: o["rate"],
    "halveThenHold": lambda t, o: 0.5 if t < o["until"] else 1.0,
}


def lambda_schedule(options, steps):
    factor, factor_options = FACTORS[options["factor"]], options.get("factorOptions", {})
    opt = optimizer(options["initValue"])
    sched = LambdaLR(opt, lambda t: factor(t, factor_options))
    return series(opt, steps, lambda t: sched.step())


def multiplicative(options, steps):
    factor, factor_options = FACTORS[options["factor"]], options.get("factorOptions", {})
    horizon = options["factorSteps"]
    opt = optimizer(options["initValue"])
    # optimkit holds the factor at its value of step factorSteps past that step.
    sched = MultiplicativeLR(opt, lambda t: factor(min(t, horizon), factor_options))
    return series(opt, steps, lambda t: sched.step())


def hf_wsd_multiplier(t, warmup, stable, decay, shape, min_ratio):
    # transformers get_wsd_schedule's lr_lambda (linear warmup), with min_lr_ratio.
    if t < warmup:
        return t / max(1, warmup)
    if t < warmup + stable:
        return 1.0
    if t < warmup + stable + decay:
        progress = (t - warmup - stable) / max(1, decay)
        if shape == "linear":
            factor = 1.0 - progress
        elif shape == "cos":
            factor = 0.5 * (1.0 + math.cos(math.pi * progress))
        else:  # "1-sqrt", Hägele et al. 2024
            factor = 1.0 - math.sqrt(progress)
        return factor * (1.0 - min_ratio) + min_ratio
    return min_ratio


def warmup_stable_decay(options, steps):
    peak = options["peakValue"]
    opt = optimizer(peak)
    args = (
        options["warmupSteps"],
        options["stableSteps"],
        options["decaySteps"],
        options.get("decayShape", "linear"),
        options.get("endValue", 0.0) / peak,
    )
    sched = LambdaLR(opt, lambda t: hf_wsd_multiplier(t, *args))
    return series(opt, steps, lambda t: sched.step())


def swa(options, before, steps):
    """torch's documented loop: `before` until the switch, then SWALR, created at the switch."""
    start = options["swaStart"]
    opt = optimizer(options["before"] if isinstance(options["before"], float) else before["initValue"])
    if before is None:
        sched = None
    elif before["kind"] == "cosine":
        sched = CosineAnnealingLR(opt, T_max=before["decaySteps"])
    else:
        factor = FACTORS[before["factor"]]
        sched = MultiplicativeLR(opt, lambda t: factor(t, before["factorOptions"]))
    holder = {}

    def advance(t):
        if t + 1 <= start and sched is not None:
            sched.step()
        if t + 1 == start:
            holder["swa"] = make_swalr()
        elif t + 1 > start:
            holder["swa"].step()

    def make_swalr():
        return SWALR(
            opt,
            swa_lr=options["swaLearningRate"],
            anneal_epochs=options.get("annealSteps", 10),
            anneal_strategy=options.get("anneal", "cos"),
        )

    if start == 0:
        holder["swa"] = make_swalr()
    return series(opt, steps, advance)


STEPS = 80
cases = []


def add(title, factory, options, values):
    cases.append({"title": title, "factory": factory, "options": options, "values": values})


for title, options in [
    ("triangular, up 4 = down", {"baseValue": 0.001, "maxValue": 0.006, "stepSizeUp": 4, "mode": "triangular"}),
    ("triangular, up 3, down 7", {"baseValue": 0.01, "maxValue": 0.1, "stepSizeUp": 3, "stepSizeDown": 7}),
    ("triangular2, up 5, down 3", {"baseValue": 0.002, "maxValue": 0.02, "stepSizeUp": 5, "stepSizeDown": 3, "mode": "triangular2"}),
    ("exp_range, gamma 0.97", {"baseValue": 0.001, "maxValue": 0.01, "stepSizeUp": 6, "mode": "exp_range", "gamma": 0.97}),
    ("exp_range, up 2, down 9, gamma 0.99", {"baseValue": 0.05, "maxValue": 0.5, "stepSizeUp": 2, "stepSizeDown": 9, "mode": "exp_range", "gamma": 0.99}),
    ("sawtooth: down 0", {"baseValue": 0.0, "maxValue": 1.0, "stepSizeUp": 5, "stepSizeDown": 0}),
    ("falling: max below base", {"baseValue": 0.9, "maxValue": 0.8, "stepSizeUp": 4, "stepSizeDown": 4}),
]:
    add(title, "cyclic", options, cyclic(options, STEPS))

for title, options in [
    ("momentum (cycle_momentum, 0.8 ↔ 0.9) as cyclic from 0.9 to 0.8", {"baseValue": 0.9, "maxValue": 0.8, "stepSizeUp": 4, "stepSizeDown": 6}),
    ("momentum, triangular2", {"baseValue": 0.95, "maxValue": 0.85, "stepSizeUp": 5, "mode": "triangular2"}),
    ("momentum, exp_range", {"baseValue": 0.9, "maxValue": 0.8, "stepSizeUp": 3, "stepSizeDown": 5, "mode": "exp_range", "gamma": 0.98}),
]:
    add(title, "cyclic", options, cyclic_momentum(options, STEPS))

for title, options in [
    ("linear decay", {"initValue": 0.0, "peakValue": 0.003, "warmupSteps": 5, "stableSteps": 30, "decaySteps": 20, "decayShape": "linear"}),
    ("cos decay to endValue", {"initValue": 0.0, "peakValue": 0.01, "warmupSteps": 8, "stableSteps": 40, "decaySteps": 16, "endValue": 0.001, "decayShape": "cos"}),
    ("1-sqrt cooldown", {"initValue": 0.0, "peakValue": 0.001, "warmupSteps": 10, "stableSteps": 25, "decaySteps": 36, "decayShape": "1-sqrt"}),
    ("1-sqrt, no warmup, no stable stage", {"initValue": 0.0, "peakValue": 0.02, "warmupSteps": 0, "stableSteps": 0, "decaySteps": 64, "endValue": 0.0002, "decayShape": "1-sqrt"}),
]:
    add(title, "warmupStableDecay", options, warmup_stable_decay(options, STEPS))

for title, options in [
    ("noam warmup 10", {"initValue": 0.002, "factor": "noam", "factorOptions": {"warmup": 10}}),
    ("wavy", {"initValue": 0.1, "factor": "wavy", "factorOptions": {"base": 1.0, "amplitude": 0.5}}),
]:
    add(title, "lambdaSchedule", options, lambda_schedule(options, STEPS))

for title, options in [
    ("constant 0.95", {"initValue": 0.1, "factor": "constantRate", "factorOptions": {"rate": 0.95}, "factorSteps": 1}),
    ("halve until 6, then hold", {"initValue": 1.0, "factor": "halveThenHold", "factorOptions": {"until": 6}, "factorSteps": 100}),
    ("wavy, held after step 30", {"initValue": 0.05, "factor": "wavy", "factorOptions": {"base": 0.99, "amplitude": 0.02}, "factorSteps": 30}),
]:
    add(title, "multiplicative", options, multiplicative(options, STEPS))

for title, options, before in [
    ("from a constant, cos over 5", {"before": 0.1, "swaStart": 0, "swaLearningRate": 0.02, "annealSteps": 5, "anneal": "cos"}, None),
    ("from a constant, linear over 7", {"before": 0.1, "swaStart": 0, "swaLearningRate": 0.05, "annealSteps": 7, "anneal": "linear"}, None),
    ("from a constant, no anneal, at step 5", {"before": 0.1, "swaStart": 5, "swaLearningRate": 0.03, "annealSteps": 0}, None),
    ("default anneal (cos, 10) after 20 steps of a constant", {"before": 0.1, "swaStart": 20, "swaLearningRate": 0.01}, None),
    (
        "after cosine decay, linear over 10",
        {"swaStart": 31, "swaLearningRate": 0.005, "annealSteps": 10, "anneal": "linear"},
        {"kind": "cosine", "initValue": 0.1, "decaySteps": 40},
    ),
    (
        "torch docs: MultiplicativeLR(0.9) then SWALR(linear, 20) after epoch 30 (swaStart 31)",
        {"swaStart": 31, "swaLearningRate": 0.005, "annealSteps": 20, "anneal": "linear"},
        {"kind": "multiplicative", "initValue": 0.1, "factor": "constantRate", "factorOptions": {"rate": 0.9}},
    ),
    (
        "after cosine decay, no anneal",
        {"swaStart": 12, "swaLearningRate": 0.02, "annealSteps": 0},
        {"kind": "cosine", "initValue": 0.1, "decaySteps": 40},
    ),
]:
    record = dict(options)
    if before is not None:
        record["beforeSchedule"] = before
    add(title, "swaLearningRate", record, swa(options if before is None else {**options, "before": None}, before, STEPS))

out = os.path.join(ROOT, "packages/schedules/src/fixtures/torch-schedules.json")
with open(out, "w") as f:
    json.dump({"torch": torch.__version__, "steps": STEPS, "cases": cases}, f, indent=1)
    f.write("\n")
print(f"wrote {len(cases)} cases to {os.path.relpath(out, ROOT)}")
