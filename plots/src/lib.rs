//! Charts of fleetsim results.
