"""`cityq demo`: the whole study on the embedded synthetic cities."""

from __future__ import annotations

from pathlib import Path

import typer


def demo(
    out: Path = typer.Option(Path("cityq-demo"), "--out", help="Folder for images, store, charts and report."),
    quick: bool = typer.Option(False, "--quick", help="A two-minute smoke run on a small data set."),
    paper_scale: bool = typer.Option(False, "--paper-scale", help="224 px, 10k images per city, 30 epochs: for a GPU."),
    spec: str = typer.Option(None, "--spec", help="City spec TOML (default: tokyo and pittsburgh)."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
) -> None:
    """Run the whole study on synthetic cities: generate, train 4 architectures x 2 seeds,
    ingest, embed, chart, report; then print the headline tables. Rerunning resumes.

    Example: cityq demo --out cityq-demo
    """
    from cityq.cli.common import Output, render_frame
    from cityq.pipeline.demo import DemoConfig, run_demo

    table = Output("table")  # the demo's summary is for people, in a log file too

    if quick and paper_scale:
        from cityq.errors import CityqError

        raise CityqError("choose one of --quick and --paper-scale")
    config = DemoConfig.quick(out) if quick else DemoConfig.paper_scale(out) if paper_scale else DemoConfig(out=out)
    config.spec, config.device = spec, device
    result = run_demo(config, say=lambda message: typer.echo(message, err=True))
    typer.echo("\nTop objects by lift (threshold 0.5; in at least 5 images; lift_low: 95% lower bound), "
               "per model and city:")
    top = result.top_objects
    columns = ["model", "city", "rank", "object", "rpc", "lift", "lift_low", "n_images_with"]
    render_frame(top[columns] if not top.empty else top, table)
    typer.echo("\nAR between architectures vs between seeds (the paper's Table 2), at the masks' own and at a "
               "common CAM resolution:")
    versus = result.arch_vs_seed
    render_frame(versus[["comparison", "mean_ar", "n_pairs", "p_value", "min_p", "n_relabellings", "mean_ar_common",
                         "p_value_common"]] if not versus.empty else versus, table)
    reliance = result.reliance
    if reliance is not None:
        typer.echo("\nWhat the models rely on (objects drawn out of the scene, net of the control) beside what "
                   "Grad-CAM says (lift), with their Spearman correlation and its 95% interval:")
        columns = ["model", "city", "top_reliance", "top_lift", "spearman", "spearman_low", "spearman_high"]
        render_frame(reliance[columns] if not reliance.empty else reliance, table)
    total = sum(result.stage_seconds.values())
    typer.echo(f"\nDone in {total / 60:.1f} min. Store: {result.store}   Report: {result.report}")
    typer.echo("Try next:")
    typer.echo(f'  cityq query "rpc by city" --store {result.store} -p threshold=0.3')
    typer.echo(f'  cityq sql "SELECT * FROM ar_by_model_pair()" --store {result.store} --format csv')
    typer.echo(f'  cityq chart "rpc sweep" -o sweep.html --store {result.store}')
    if reliance is not None and not reliance.empty:
        typer.echo(f'  cityq query "reliance by city" --store {result.store} -p model={reliance["model"].iloc[0]}')


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
