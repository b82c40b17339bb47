//! Path authorisation (G1): is a plane path inside a framework's `path_authorizations`?

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::{FrameworkError, FrameworkManifest};
use crate::plane::normalize_relative;

/// The compiled `path_authorizations` of one framework.
///
/// Globs use literal separators (`*` never crosses `/`; `**` does), and are matched against
/// the normalised form of a path ([`normalize_relative`]); a path that does not normalise
/// (absolute, `..`, `.` inside, empty components, backslashes) never matches.
#[derive(Debug, Clone)]
pub struct PathAuthorizer {
    set: GlobSet,
}

impl PathAuthorizer {
    /// Compiles the framework's globs; an invalid glob is an error naming the framework and
    /// the index.
    pub fn new(framework: &FrameworkManifest) -> Result<Self, FrameworkError> {
        let mut b = GlobSetBuilder::new();
        for (index, pattern) in framework.path_authorizations.iter().enumerate() {
            let glob =
                GlobBuilder::new(pattern).literal_separator(true).backslash_escape(true).build().map_err(|source| {
                    FrameworkError::InvalidGlob {
                        framework_id: framework.framework_id.clone(),
                        index,
                        pattern: pattern.clone(),
                        source,
                    }
                })?;
            b.add(glob);
        }
        // Building the set fails only when the combined matcher is too large; it is reported
        // against the whole list (index = number of globs, empty pattern).
        let set = b.build().map_err(|source| FrameworkError::InvalidGlob {
            framework_id: framework.framework_id.clone(),
            index: framework.path_authorizations.len(),
            pattern: String::new(),
            source,
        })?;
        Ok(Self { set })
    }

    /// Whether `path` is authorised.
    pub fn is_authorized(&self, path: &str) -> bool {
        match normalize_relative(path) {
            Ok(p) => self.set.is_match(p.as_str()),
            Err(_) => false,
        }
    }
}

/// Whether `path` lies inside `framework`'s `path_authorizations` (see [`PathAuthorizer`]).
/// A framework with an invalid glob authorises nothing (loading reports the glob).
pub fn path_authorized(framework: &FrameworkManifest, path: &str) -> bool {
    PathAuthorizer::new(framework).is_ok_and(|a| a.is_authorized(path))
}
