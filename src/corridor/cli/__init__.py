"""The command line, `corridor ...`: a thin shell over the other packages (the typer app is in
`corridor.cli.main`)."""
