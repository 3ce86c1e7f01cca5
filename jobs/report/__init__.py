"""What a run shows a person: the HTML report (`page`), its SVG charts (`charts`) and the terminal
progress bar and summaries (`progress`)."""
