"""T2L's training step with its in-place QuickGELU, with transformers' QuickGELU swapped back, and full fine-tuning
of CLIP, timed in one process, interleaved step by step (process CPU time, one thread), so that the machine's drift
cancels within a round. What the README's one-process table reports:

    python -m modeling_t2l.benchmarking.activation_ab --rounds 4              # with checkpointing (ViT-B/16, batch 2)
    python -m modeling_t2l.benchmarking.activation_ab --rounds 4 --no-checkpointing
"""
import argparse
import statistics

from transformers.activations import QuickGELUActivation

from .settings import BenchmarkSettings
from .timing import measure_interleaved
from .training import training_step_parts


def main(argv=None, settings: BenchmarkSettings | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--no-checkpointing", action="store_true")
    args = parser.parse_args(argv)
    settings = settings or BenchmarkSettings.vit_b16(train_batch_size=2, clock="cpu")
    settings.apply_threads()
    steps = {}
    for name, method in (("t2l", "t2l"), ("t2l_transformers_gelu", "t2l"), ("full_ft", "full_ft")):
        model, _, forward, optimizer_step = training_step_parts(settings, method, not args.no_checkpointing)
        if name == "t2l_transformers_gelu":
            for module_name, module in model.named_modules():
                if module_name.endswith("mlp"):
                    module.activation_fn = QuickGELUActivation()
        steps[name] = (forward, optimizer_step)

    def step(forward, optimizer_step):
        forward().backward()
        optimizer_step()

    # the benchmark's own harness: one warm-up step each (allocates AdamW's state), then rotating rounds
    timings = measure_interleaved({name: (lambda parts=parts: step(*parts)) for name, parts in steps.items()},
                                  warmup=1, repeats=args.rounds, timer=settings.timer())
    names, times = list(steps), {name: timing.samples for name, timing in timings.items()}
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name in names:
        print(f"{name}: {medians[name]:.2f} s / step, / full_ft {medians[name] / medians['full_ft']:.3f}")
    print(f"t2l / t2l_transformers_gelu: {medians['t2l'] / medians['t2l_transformers_gelu']:.3f}")
    return medians


if __name__ == "__main__":
    main()
