"""Where a dispatcher's report lands: the point on the asset clicked, and its utility."""
