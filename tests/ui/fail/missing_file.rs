// An absolute path, so that the message is the same wherever the target directory is:
// trybuild builds each case under it, and a relative path is read from there.
flags::declare!("/nonexistent/flags-ui/no_such_file.toml");

fn main() {
    // No further errors: a bare `Flags` type is still generated.
    let _ = Flags;
}
