//! `compbench bench he`: per-operation costs of BFV on this machine (filled in below).
