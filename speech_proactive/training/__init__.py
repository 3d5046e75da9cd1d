"""Training: the one loop (loop), its config, the three losses (L_batch, L_MSLM, L_SPSD) and the read schedules
they sample, batches and datasets, augmentation, data parallelism, the periodic dev evaluation, and the learned
probe decision head trained on a frozen model (probe, probe_data)."""
