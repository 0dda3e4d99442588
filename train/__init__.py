"""fashion_edge.train: data loading, the model zoo, training and training reports (needs [train])."""
