//! `sample lock|hold|hold-read <path>`: the lock-holding child for the tests.
fn main() {
    #[cfg(windows)]
    {
        let args: Vec<String> = std::env::args().collect();
        if args.len() != 3 {
            eprintln!("usage: sample lock|hold|hold-read <path>");
            std::process::exit(2);
        }
        std::process::exit(sample::child_main(&args[1], std::path::Path::new(&args[2])));
    }
    #[cfg(not(windows))]
    eprintln!("sample: Windows only");
}
