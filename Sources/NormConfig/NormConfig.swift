// NormConfig
