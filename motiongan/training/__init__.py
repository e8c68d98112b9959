"""Training: configurations, losses (paper section 3.2), the trainer's alternating updates (section 4.1),
checkpoints and the training loop."""
