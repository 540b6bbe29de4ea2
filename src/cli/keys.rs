//! `keys new|list|revoke|add`: per-person Ed25519 keys that sign this console's audit entries
//! (see `audit::keys`).

use std::process::ExitCode;

use clap::Subcommand;

use super::Cli;
use crate::audit::keys::Ended;

#[derive(Debug, Clone, Subcommand)]
pub enum KeysCmd {
    /// Make a key for you (the console's actor) on this machine and register it in the
    /// workspace's people list; from then on every entry in your name must be signed with it.
    New {
        /// Replace your registered key with a new one (run where the current key is: the
        /// change is signed by it).
        #[arg(long)]
        replace: bool,
    },
    /// The people list: who has which key, since which entry, replaced or revoked; and this
    /// console's own key.
    List,
    /// Revoke a person's active key (yours or another's); the entry names you and is signed
    /// by your key. Nothing in their name is valid until a new key is recorded for them.
    Revoke {
        person: String,
        /// The key's id, to be sure it is the one meant.
        #[arg(long)]
        key: Option<String>,
    },
    /// Vouch for PERSON's public key (they have none, or theirs was revoked): the entry names
    /// you and is signed by your key.
    Add {
        person: String,
        /// The public key (base64), as `keys new` printed it on their machine.
        #[arg(long)]
        public: String,
    },
}

pub fn run(cli: &Cli, cmd: KeysCmd) -> anyhow::Result<ExitCode> {
    let ws = cli.open_workspace()?;
    match cmd {
        KeysCmd::New { replace } => {
            let made = ws.new_key(replace)?;
            if cli.json {
                cli.print_json(&made)?;
            } else {
                if made.created {
                    println!(
                        "made {}'s key {} ({})",
                        made.person,
                        made.key,
                        made.path.display()
                    );
                } else {
                    println!(
                        "using {}'s key {} on this machine ({})",
                        made.person,
                        made.key,
                        made.path.display()
                    );
                }
                match &made.replaced {
                    Some(old) => println!(
                        "registered in {} at entry #{}, replacing key {old}",
                        ws.location(),
                        made.seq
                    ),
                    None => println!("registered in {} at entry #{}", ws.location(), made.seq),
                }
                println!(
                    "every entry in {}'s name is signed with it from now on",
                    made.person
                );
            }
        }
        KeysCmd::List => {
            let view = ws.keys_view()?;
            if cli.json {
                cli.print_json(&view)?;
            } else {
                println!("this console: {}: {}", view.person, view.summary);
                if view.people.people.is_empty() {
                    println!("nobody has a registered key in {}", ws.location());
                }
                for p in view.people.people.values() {
                    println!(
                        "{}: {}",
                        p.name,
                        match &p.vouched_by {
                            Some(v) if *v == p.name => {
                                "registered first: may revoke and vouch for others' keys".to_owned()
                            }
                            Some(v) => {
                                format!("vouched for by {v}: may revoke and vouch for others' keys")
                            }
                            None => "registered themself: signs their own entries only".to_owned(),
                        }
                    );
                    for k in &p.keys {
                        let state = match &k.ended {
                            None => "active".to_owned(),
                            Some(Ended::Replaced { seq }) => format!("replaced at #{seq}"),
                            Some(Ended::Revoked { seq, by }) => {
                                format!("revoked at #{seq} by {by}")
                            }
                        };
                        println!(
                            "{:<20} {}  since #{:<6} added by {:<16} {state}",
                            p.name, k.id, k.since, k.added_by
                        );
                    }
                }
            }
        }
        KeysCmd::Revoke { person, key } => {
            let (id, seq) = ws.revoke_key(&person, key.as_deref())?;
            if cli.json {
                cli.print_json(&serde_json::json!({"person": person, "key": id, "seq": seq}))?;
            } else {
                println!("revoked {person}'s key {id} at entry #{seq}");
            }
        }
        KeysCmd::Add { person, public } => {
            let (id, seq) = ws.vouch_key(&person, &public)?;
            if cli.json {
                cli.print_json(&serde_json::json!({"person": person, "key": id, "seq": seq}))?;
            } else {
                println!("registered {person}'s key {id} at entry #{seq}, vouched for by you");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
