"""Places: the municipalities of the oblast (their hierarchy and boundaries) and the point → unit
look-up that incidents, the responsible operator and the map share."""
