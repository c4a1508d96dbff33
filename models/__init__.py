"""Models built on tinygrad_be: k-nearest neighbours and the multilayer perceptron."""
