// BatchRenorm
