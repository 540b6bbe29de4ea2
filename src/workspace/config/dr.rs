//! `[dr]`: how the disaster-recovery procedures' steps run.

use serde::{Deserialize, Serialize};

/// `[dr]`: how the disaster-recovery procedures' steps run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DrConfig {
    /// A folder of stand-ins (relative to the workspace, or absolute): every step runs the file
    /// there named like its program (`aws` runs `<stand_ins>/aws`), never the real program; a
    /// step whose program has no stand-in there does not run. Empty: the real programs run. The
    /// demo workspace sets it, so its procedures touch no cloud.
    pub stand_ins: String,
}

impl DrConfig {
    pub fn is_empty(&self) -> bool {
        self.stand_ins.trim().is_empty()
    }

    /// The stand-ins folder as configured, when one is.
    pub fn stand_ins(&self) -> Option<&str> {
        let s = self.stand_ins.trim();
        (!s.is_empty()).then_some(s)
    }
}
