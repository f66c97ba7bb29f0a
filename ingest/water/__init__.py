"""Surface water: the national automatic-station real-time platform (paged JSON board) and the section registry."""
