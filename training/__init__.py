"""Training new voices: data preparation, features, RVC training (torch.distributed), LLVC distillation."""
