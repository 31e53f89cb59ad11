// MinMax
