// VivimAnalytics
