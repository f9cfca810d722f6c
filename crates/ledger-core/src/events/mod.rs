//! Version-1 domain events (being written).
