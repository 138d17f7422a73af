fn main() -> std::process::ExitCode {
    gitops_ledger::cli::run()
}
