"""Generator: bank-shaped landing data at any scale, with planted ground truth and dirt."""
