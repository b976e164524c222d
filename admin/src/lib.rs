//! The tenant admin side of xgate. For now it owns invitation rendering, the one path
//! by which both the meetings API and (later) the admin UI preview turn a template
//! into the letter a user sends.

pub mod invitation;

pub use invitation::{Invitation, InvitationContext, RenderError, render};
