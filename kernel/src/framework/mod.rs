//! Framework manifests (`HOT/FMWK-NNN_Name/manifest.yaml`) and spec packs
//! (`HOT/spec_packs/SPEC-…/manifest.yaml`). Filled in by the packages work.
