//! The three tiers of a plane.

use std::fmt;
use std::str::FromStr;

/// A tier of the plane: `HOT` (governance), `HO2` (supervisor), `HO1` (executor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum Tier {
    /// Governance tier.
    #[serde(rename = "hot", alias = "HOT")]
    Hot,
    /// Supervisor tier.
    #[serde(rename = "ho2", alias = "HO2")]
    Ho2,
    /// Executor tier.
    #[serde(rename = "ho1", alias = "HO1")]
    Ho1,
}

impl Tier {
    /// Every tier, highest first.
    pub const ALL: [Tier; 3] = [Tier::Hot, Tier::Ho2, Tier::Ho1];

    /// The directory name (`HOT`, `HO2`, `HO1`).
    pub fn dir_name(self) -> &'static str {
        match self {
            Tier::Hot => "HOT",
            Tier::Ho2 => "HO2",
            Tier::Ho1 => "HO1",
        }
    }

    /// The lower-case name used in requests and configs (`hot`, `ho2`, `ho1`).
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Hot => "hot",
            Tier::Ho2 => "ho2",
            Tier::Ho1 => "ho1",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for an unknown tier name.
#[derive(Debug, thiserror::Error)]
#[error("unknown tier {0:?} (expected hot, ho2 or ho1)")]
pub struct UnknownTier(pub String);

impl FromStr for Tier {
    type Err = UnknownTier;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hot" | "HOT" => Ok(Tier::Hot),
            "ho2" | "HO2" => Ok(Tier::Ho2),
            "ho1" | "HO1" => Ok(Tier::Ho1),
            _ => Err(UnknownTier(s.to_string())),
        }
    }
}
