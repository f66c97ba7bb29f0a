"""Enterprise environmental credit rating result files (provincial XLSX / CSV)."""
