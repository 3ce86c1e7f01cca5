"""`tokenmill ablate`: curation configs compared by the proxy models their data trains."""
