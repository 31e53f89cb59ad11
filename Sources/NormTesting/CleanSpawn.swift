import Foundation

/// `posix_spawn` for the children tests start: no signal blocked and every signal at its default
/// action, standard input from /dev/null, standard output and error to the given descriptors, no
/// other descriptor inherited, in a process group of its own (as Foundation's `Process` puts it).
///
/// Why not `Process`: on Linux it spawns with `POSIX_SPAWN_SETPGROUP` alone, so the child inherits
/// the spawning thread's signal mask and every signal the test process ignores. Swift Testing runs
/// tests on libdispatch worker threads, and libdispatch blocks every asynchronous signal on those
/// (`_dispatch_sigmask`: all but SIGILL, SIGTRAP, SIGFPE, SIGBUS, SIGSEGV, SIGSYS, SIGPIPE, SIGPROF).
/// A python3 started from a test had SigBlk fffffffe3bfbea27 (SIGTERM, SIGINT, SIGHUP… blocked): a
/// SIGTERM stayed pending for good, and a pyzmq flood "terminated" by its test ran on.
enum CleanSpawn {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts `executable` with `arguments` (argv[0] is `executable`) in `directory`, with
    /// `environment` (this process's when nil); returns its pid.
    static func start(
        executable: String, arguments: [String], directory: String, environment: [String: String]?, stdout: Int32, stderr: Int32
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        try check(posix_spawn_file_actions_init(&actions), "posix_spawn_file_actions_init")
        defer { posix_spawn_file_actions_destroy(&actions) }
        try check(posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0), "open /dev/null as stdin")
        try check(posix_spawn_file_actions_adddup2(&actions, stdout, 1), "stdout")
        try check(posix_spawn_file_actions_adddup2(&actions, stderr, 2), "stderr")
        guard let addCloseFrom = GlibcSpawn.addCloseFrom, let addChdir = GlibcSpawn.addChdir else {
            throw Failure(description: "posix_spawn_file_actions_addclosefrom_np or _addchdir_np missing: the tests need glibc 2.34 or later")
        }
        try check(addCloseFrom(&actions, 3), "posix_spawn_file_actions_addclosefrom_np")
        try check(directory.withCString { addChdir(&actions, $0) }, "posix_spawn_file_actions_addchdir_np \(directory)")

        var attributes = posix_spawnattr_t()
        try check(posix_spawnattr_init(&attributes), "posix_spawnattr_init")
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        try check(posix_spawnattr_setsigmask(&attributes, &none), "posix_spawnattr_setsigmask")
        try check(posix_spawnattr_setsigdefault(&attributes, &all), "posix_spawnattr_setsigdefault")
        try check(posix_spawnattr_setpgroup(&attributes, 0), "posix_spawnattr_setpgroup")
        try check(
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP)),
            "posix_spawnattr_setflags")

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { envp?.forEach { free($0) } }
        var pid = pid_t()
        let result =
            if let envp {
                posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            } else {
                posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
            }
        try check(result, "posix_spawn \(executable)")
        return pid
    }

    private static func check(_ result: Int32, _ what: String) throws {
        guard result == 0 else { throw Failure(description: "\(what): \(String(cString: strerror(result)))") }
    }
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34) and `…_addchdir_np` (2.29): Swift's
/// Glibc module leaves them out (they are declared under `_GNU_SOURCE` only), so they are looked up
/// by name; without them a child could not be given its directory, or kept from this process's descriptors, safely.
private enum GlibcSpawn {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    static let addCloseFrom: AddCloseFrom? = function("posix_spawn_file_actions_addclosefrom_np")
    static let addChdir: AddChdir? = function("posix_spawn_file_actions_addchdir_np")

    /// nil when this glibc lacks `name`. RTLD_DEFAULT is the null handle on glibc.
    private static func function<F>(_ name: String) -> F? {
        dlsym(nil, name).map { unsafeBitCast($0, to: F.self) }
    }
}
