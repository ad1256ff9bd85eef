import CBuildInfo

/// lorweb's version and the commit it was built from: what `lorweb --version` prints and what
/// every report it writes records as "lorweb_version".
public enum LorwebVersion {
    /// The release number; raise it with changes users see.
    public static let number = "0.1.0"

    /// The git commit of the build (`make` embeds it; a plain `swift build` says "unknown commit"),
    /// with "-dirty" when the work tree had uncommitted changes.
    public static let commit = String(cString: lorweb_build_commit())

    /// "0.1.0 (commit 1a2b3c4d5e6f)".
    public static let description = "\(number) (\(commit.hasPrefix("unknown") ? commit : "commit " + commit))"
}
