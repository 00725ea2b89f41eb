"""segmint: customer segmentation rules evaluated over Apache Arrow."""
