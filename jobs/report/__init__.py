"""What a run shows a person: the HTML report (`page`), the bounded part of an output it reads
(`sample`), its SVG charts (`charts`) and the terminal progress bar and summaries (`progress`)."""
