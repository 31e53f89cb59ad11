import CLibFuzzer
import FuzzTargets
import Glibc

// libFuzzer driver for every target in FuzzTargets:
//
//     normd-fuzz TARGET [libFuzzer flags] [corpus dirs or files]
//
// TARGET is a `FuzzTarget` raw value (tensor, npy, json, npy_file, config, state, sync). It is also put in
// NORMD_FUZZ_TARGET, because processes libFuzzer starts itself (-fork, -merge) get only the flags.
// One binary rather than one per target: the sanitizer link of the whole graph is the slow part
// of the fuzz build, and CI pays it once.

var arguments = CommandLine.arguments
if arguments.count > 1, FuzzTarget(rawValue: arguments[1]) != nil {
    setenv("NORMD_FUZZ_TARGET", arguments.remove(at: 1), 1)
}
guard let name = getenv("NORMD_FUZZ_TARGET").map({ String(cString: $0) }), let chosen = FuzzTarget(rawValue: name) else {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
    var usage = "usage: normd-fuzz \(names) [libFuzzer flags] [corpus...] (or set NORMD_FUZZ_TARGET)\n"
    _ = usage.withUTF8 { write(2, $0.baseAddress, $0.count) }
    exit(64)
}
let target = chosen

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    target.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

// libFuzzer keeps argv for the rest of the process (it re-reads it for -fork and -merge children).
var argc = CInt(arguments.count)
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = {
    let vector = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: arguments.count + 1)
    for (index, argument) in arguments.enumerated() { vector[index] = strdup(argument) }
    vector[arguments.count] = nil
    return vector
}()
exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
