"""``python -m cost``: synthesize a stage, price it, print the table and write results/cost.json.

python -m cost --stage prod --requests-per-s 200 --jobs-per-day 1e6
python -m cost --assembly cdk.out          # price templates already synthesized
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
from pathlib import Path

from rich.console import Console

from cost import prices, report
from cost.assumptions import Assumptions, for_stage
from cost.deployment import Deployment, read_assembly
from cost.estimate import estimate
from cost.model import CostError
from cost.synth import ROOT, SynthError, SynthPlan, command, plan, synthesize
from stacks.context import KEYS

STAGES = ("dev", "prod")


def parser() -> argparse.ArgumentParser:
    """The command line: what to synthesize, where to write, and one flag per assumption."""
    p = argparse.ArgumentParser(
        prog="python -m cost", description="Monthly cost estimate of a stage's CloudFormation templates."
    )
    p.add_argument("--stage", choices=STAGES, default="dev", help="the stage to synthesize (default: dev)")
    p.add_argument("--regions", default="", help="comma-separated regions (needs the app's `regions` context key)")
    p.add_argument(
        "--cdk-args", default=os.environ.get("CDK_ARGS", ""), help="more CDK CLI arguments, as CDK_ARGS of make synth"
    )
    p.add_argument("--assembly", type=Path, help="price this cloud assembly (a cdk.out folder) instead of synthesizing")
    p.add_argument("--output", type=Path, default=ROOT / "results" / "cost.json", help="where the JSON goes")
    traffic = p.add_argument_group("assumptions (defaults per stage: docs/cost.md)")
    for f in dataclasses.fields(Assumptions):
        traffic.add_argument("--" + f.name.replace("_", "-"), type=float, dest=f.name, help=f.metadata["help"])
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the estimate; one line on stderr and status 1 for anything it cannot do."""
    args = parser().parse_args(argv)
    overrides = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(Assumptions) if getattr(args, f.name) is not None
    }
    regions = [region.strip() for region in args.regions.split(",") if region.strip()]
    console = Console(width=None if sys.stdout.isatty() else 160)
    try:
        assumptions = for_stage(args.stage, **overrides)
        synth_plan = plan(args.stage, regions, args.cdk_args, KEYS)
        if args.assembly:
            synth_plan = SynthPlan({}, {}, [])
            assembly, synth = args.assembly, f"read from {args.assembly}"
        else:
            assembly = ROOT / ".cache" / "cost" / args.stage
            synth = shlex.join(command(synth_plan, args.cdk_args, assembly)[2:]).replace(str(ROOT) + "/", "")
            console.print(f"synthesizing {args.stage} ...", style="dim", highlight=False)
            synthesize(synth_plan, args.cdk_args, assembly)
        deployment = Deployment(read_assembly(assembly), assumptions, regions[0] if regions else prices.REGION)
        result = estimate(deployment)
    except (ValueError, SynthError, OSError) as error:
        kind = "cost error" if isinstance(error, CostError) else "error"
        print(f"{kind}: {error}", file=sys.stderr)
        return 1
    run = report.Run(args.stage, assumptions, synth, synth_plan.placeholders, synth_plan.notes)
    report.show(console, run, result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report.as_json(run, result), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
