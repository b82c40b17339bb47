//! The gates G0A, G0B, G1, G1-COMPLETE, G5, G6, one file each. Filled in by the packages work.
