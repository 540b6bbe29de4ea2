//! Small reusable widgets.

pub mod toasts;
