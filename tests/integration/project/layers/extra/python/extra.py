NAME = "extra"
