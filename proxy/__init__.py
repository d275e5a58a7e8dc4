"""v1proxy: the retired Tencent face recognition v1 API, answered through IAI v3."""
