// NpyFormat
