"""The methods compared: strategies, models and their trainers, threshold tuning, reference estimators, metrics."""
