fn main() {
    std::process::exit(real_service::shutdown::main_entry());
}
