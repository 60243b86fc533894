//! Datasets, model zoo, burn training, deployed kernels and the Method trait.
