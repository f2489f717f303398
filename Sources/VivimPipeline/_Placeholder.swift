// VivimPipeline
