"""`tokenmill eval`: what a trained model is worth, measured on held-out text and multiple-choice sets."""
