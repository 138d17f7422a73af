//! Every argument in the generated reference (docs/cli.md) says what it is for.

/// `command`'s own arguments, possible values and subcommands, and those
/// below it, that have no help text.
fn undocumented(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
    let has_text = |text: Option<&clap::builder::StyledStr>| text.is_some_and(|t| !t.to_string().trim().is_empty());
    if !has_text(command.get_about()) && !has_text(command.get_long_about()) {
        missing.push(format!("`{path}` (the command)"));
    }
    // clap's own --help and --version say what they do.
    for arg in command.get_arguments().filter(|arg| !matches!(arg.get_id().as_str(), "help" | "version")) {
        let name = arg.get_long().map_or_else(|| format!("<{}>", arg.get_id()), |long| format!("--{long}"));
        if !has_text(arg.get_help()) && !has_text(arg.get_long_help()) {
            missing.push(format!("`{path}` {name}"));
        }
        for value in arg.get_possible_values().iter().filter(|value| !value.is_hide_set()) {
            if !has_text(value.get_help()) {
                missing.push(format!("`{path}` {name} {}", value.get_name()));
            }
        }
    }
    for sub in command.get_subcommands().filter(|sub| sub.get_name() != "help") {
        undocumented(sub, &format!("{path} {}", sub.get_name()), missing);
    }
}

#[test]
fn every_argument_of_every_command_has_help() {
    let mut command = gitops_ledger::cli::command();
    command.build();
    let mut missing = Vec::new();
    undocumented(&command, "gitops-ledger", &mut missing);
    assert!(missing.is_empty(), "no help text (add a doc comment to the clap definition):\n{}", missing.join("\n"));
}
