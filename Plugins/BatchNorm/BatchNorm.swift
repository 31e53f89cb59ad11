// BatchNorm
